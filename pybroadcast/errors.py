"""Errors that cross into PHP.

The extension maps ``ValueError`` to PHP's ``ValueError`` and every
:class:`BroadcastError` to ``PyBroadcast\\Exception`` with the error's ``code``:
``NOT_SENT`` (nothing was delivered: safe to retry) or ``UNCONFIRMED`` (the
request went out but no answer came back: it may have been delivered, so a
retry may deliver it twice).
"""

NOT_SENT = 1
UNCONFIRMED = 2


class BroadcastError(RuntimeError):
    """A failure the PHP caller must see: it becomes ``PyBroadcast\\Exception``."""

    code = NOT_SENT


class Unreachable(BroadcastError):
    """The hub or broker could not be reached; the message names which. Nothing was sent."""


class Untrusted(BroadcastError):
    """The command socket is served by a process the app must not trust. Nothing was sent."""


class Unconfirmed(BroadcastError):
    """The request was sent but not acknowledged in time: it may still be delivered."""

    code = UNCONFIRMED
