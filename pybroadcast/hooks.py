"""The PHP callbacks, declared once (import-free: app processes load it through the seam).

In this order they are the slots of ``PyBroadcast\\Server`` (onAuthenticate,
onAuthorize, onJoin, onLeave); the extension reads ``NAMES`` through
:mod:`pybroadcast.seam`.
"""

AUTHENTICATE = "authenticate"
AUTHORIZE = "authorize"
JOIN = "join"
LEAVE = "leave"
NAMES = (AUTHENTICATE, AUTHORIZE, JOIN, LEAVE)
