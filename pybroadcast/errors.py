"""Errors that cross into PHP.

The extension maps ``ValueError`` to PHP's ``ValueError`` and every
:class:`BroadcastError` to ``PyBroadcast\\Exception``.
"""


class BroadcastError(RuntimeError):
    """A failure the PHP caller must see: it becomes ``PyBroadcast\\Exception``."""


class Unreachable(BroadcastError):
    """The hub or broker could not be reached; the message names which."""
