"""What app processes run for ``broadcast()`` and friends.

Only this module (and the small ones it imports) is loaded in php-fpm workers:
no asyncio, no websockets. The route is chosen per call:

* inside the hub process (``local.current``): straight to the hub's loop;
* memory driver: a request on the hub's Unix command socket, over one
  connection kept for the life of the process and checked before reuse;
* redis driver: straight to Redis (:mod:`pybroadcast.redis_route`, imported
  only then: redis-py brings asyncio with it).
"""

from __future__ import annotations

import os
import select
import socket
import time
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs app processes ~4 ms to import
    from typing import Any, Mapping

from . import local, settings as settings_mod, socket_trust, validation, wire
from .errors import BroadcastError, Unconfirmed, Unreachable
from .events import DIRECT, DISCONNECT, MESSAGE, Event

TIMEOUT = 1.0  # seconds: a request never hangs longer than about this
REPLY_LIMIT = 1 << 28  # bytes: a members() reply of a very large channel still fits

_settings_cache: dict[tuple[Any, ...], settings_mod.Settings] = {}
_routes: dict[tuple[str, ...], Any] = {}


def broadcast(ini: Mapping[str, Any], channel: bytes, message: bytes) -> None:
    settings = _settings(ini)
    event = Event(MESSAGE, validation.channel(channel), validation.message(message, settings.max_message_size))
    _route(settings).publish(event)


def broadcast_to_user(ini: Mapping[str, Any], user: bytes | int, message: bytes) -> None:
    settings = _settings(ini)
    event = Event(DIRECT, validation.user_id(user), validation.message(message, settings.max_message_size))
    _route(settings).publish(event)


def channel_users(ini: Mapping[str, Any], channel: bytes) -> list[str]:
    settings = _settings(ini)
    return _route(settings).members(validation.channel(channel))


def disconnect_user(ini: Mapping[str, Any], user: bytes | int) -> None:
    settings = _settings(ini)
    _route(settings).publish(Event(DISCONNECT, validation.user_id(user)))


def _settings(ini: Mapping[str, Any]) -> settings_mod.Settings:
    key = tuple(ini.items())
    cached = _settings_cache.get(key)
    if cached is None:
        cached = _settings_cache[key] = settings_mod.resolve(None, ini)
    return cached


def _route(settings: settings_mod.Settings) -> Any:
    hub = local.current
    if hub is not None:
        if hub.pid == os.getpid():
            return hub
        settings = hub.settings  # a child forked from the hub talks to its parent's hub
    if settings.driver == "redis":
        key: tuple[str, ...] = ("redis", settings.redis_url, settings.redis_prefix)
    else:
        key = ("memory", settings.socket_path, str(settings.socket_owner))
    route = _routes.get(key)
    if route is None:
        if settings.driver == "redis":
            from .redis_route import RedisRoute

            route = RedisRoute(settings)
        else:
            route = SocketRoute(settings.socket_path, settings.socket_owner)
        _routes[key] = route
    return route


class SocketRoute:
    """Requests to a memory-driver hub over its Unix command socket."""

    def __init__(self, path: str, owner: int | None = None) -> None:
        self.path = path
        self._owner = owner
        self._sock: socket.socket | None = None
        self._pid = 0
        self._buffer = b""

    def publish(self, event: Event) -> None:
        self._request(wire.pack(wire.PUBLISH, *event))

    def members(self, channel: str) -> list[str]:
        return self._request(wire.pack(wire.MEMBERS, channel))

    def _request(self, payload: bytes) -> list[str]:
        deadline = time.monotonic() + TIMEOUT
        sock = self._connection(deadline)
        try:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.sendall(payload)
        except (OSError, TimeoutError) as exc:
            # The hub closed this stream or is not reading: it did not take the request.
            self._drop()
            raise Unreachable(f"pybroadcast hub at unix socket {self.path} did not take the request: {_reason(exc)}") from None
        try:
            body = self._read_reply(sock, deadline)
            status, *fields = wire.unpack(body)
        except (OSError, TimeoutError, ValueError) as exc:
            self._drop()
            raise Unconfirmed(
                f"pybroadcast hub at unix socket {self.path} did not confirm the request: {_reason(exc)};"
                " it may still be delivered"
            ) from None
        if status != wire.OK:
            raise BroadcastError(f"pybroadcast hub refused the request: {' '.join(fields)}")
        return fields

    def _read_reply(self, sock: socket.socket, deadline: float) -> bytes:
        while True:
            body, self._buffer = wire.split(self._buffer, REPLY_LIMIT)
            if body is not None:
                return body
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("the hub closed the connection")
            self._buffer += chunk

    def _connection(self, deadline: float) -> socket.socket:
        sock = self._sock
        if sock is not None and (self._pid != os.getpid() or _has_input(sock)):
            # Forked child (the parent owns this stream) or the hub went away
            # since the last request: start over rather than risk a lost write.
            self._drop(close=self._pid == os.getpid())
            sock = None
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                sock.connect(self.path)
                socket_trust.check_peer(sock, self.path, self._owner)
            except (OSError, TimeoutError) as exc:
                sock.close()
                raise Unreachable(f"pybroadcast hub unreachable at unix socket {self.path}: {_no_hub(exc)}") from None
            except BaseException:
                sock.close()
                raise
            self._sock, self._pid, self._buffer = sock, os.getpid(), b""
        return sock

    def _drop(self, close: bool = True) -> None:
        if self._sock is not None and close:
            self._sock.close()
        self._sock, self._buffer = None, b""


def _has_input(sock: socket.socket) -> bool:
    """An idle request stream has nothing to read; EOF or stray bytes mean it is stale."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _no_hub(exc: BaseException) -> str:
    hint = " (is PyBroadcast\\Server::run() running with the same socket setting?)"
    if isinstance(exc, FileNotFoundError):
        return "no hub is running: the socket file does not exist" + hint
    if isinstance(exc, ConnectionRefusedError):
        return "no hub is running: the socket file was left by a hub that stopped" + hint
    return _reason(exc) + hint


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"no answer within {TIMEOUT:.0f} s"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
