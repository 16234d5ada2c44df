"""The seam between the C extension and Python: everything C reaches in Python is here.

The extension (``ext/core/``) imports this module and no other, and uses only
the names below; ``tests/test_seam.py`` checks the C side against them.

App processes (``core.c``), each ``f(ini, *args)``, where ``ini`` is a dict of
the ``pybroadcast.*`` php.ini values that are set (bytes):

* ``broadcast(ini, channel: bytes, message: bytes, event: bytes | None) -> None``
* ``broadcast_to_user(ini, user: bytes | int, message: bytes, event: bytes | None) -> None``
* ``channel_users(ini, channel: bytes) -> list[str]``
* ``disconnect_user(ini, user: bytes | int) -> None``
* ``channel_history(ini, channel: bytes, limit: int) -> [list[dict], dict | None]``:
  the messages (``offset``, ``data``, ``event``) and the position (``epoch``, ``offset``)

``PyBroadcast\\Server`` (``hub_runner.c``):

* ``check_options(options, ini) -> None``: raises ValueError for a bad option.
* ``CALLBACKS``: the callback names, in the order of the Server's slots
  (onAuthenticate, onAuthorize, onJoin, onLeave).
* ``create_runtime(options, ini, callbacks: list[str])`` returns the runtime C
  drives: ``wake_fd``/``wake_write_fd`` (ints), ``start()``, ``take_calls()``
  (a list of calls with ``name`` and ``args``), ``resolve(call, ok, outcome)`` —
  on success ``outcome`` is ``(PHP type name, zend_is_true(), value)``, else a
  message — ``finished`` (bool), ``stop(abandon_callbacks=False)`` and
  ``join(timeout) -> bool`` (see :mod:`pybroadcast.runtime`).

Errors (``embed.c``): ``ValueError`` becomes PHP's ``ValueError``, ``TypeError``
PHP's ``TypeError``, and ``BroadcastError`` ``PyBroadcast\\Exception`` with its
``code`` (``NOT_SENT``/``UNCONFIRMED``); anything else is an internal error.

Values: PHP strings arrive as bytes, arrays as list (a PHP list) or dict, ints
as int; Python str goes back as a UTF-8 PHP string.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from .hooks import NAMES as CALLBACKS
from .client import broadcast, broadcast_to_user, channel_history, channel_users, disconnect_user
from .errors import BroadcastError
from .settings import resolve

__all__ = ["CALLBACKS", "BroadcastError", "broadcast", "broadcast_to_user", "channel_history", "channel_users",
           "check_options", "create_runtime", "disconnect_user"]


def check_options(options: Any, ini: Any) -> None:
    resolve(options, ini)


def create_runtime(options: Any, ini: Any, callbacks: Any) -> Any:
    from .runtime import Runtime  # only the hub process loads asyncio and websockets

    return Runtime(options, ini, callbacks)
