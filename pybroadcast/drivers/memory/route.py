"""The memory driver's app route: requests to the hub over its Unix command socket.

One connection per process (per php-fpm worker), kept for the life of the
process and checked before reuse. Imported by app processes: no asyncio.
"""

from __future__ import annotations

import os
import select
import socket
import time

from ...errors import BroadcastError, Unconfirmed, Unreachable
from ...events import MESSAGE, PUBLISHED, Event
from ..history import Page
from ..route import AppRoute
from . import socket_trust, wire

TIMEOUT = 1.0  # seconds: a request never hangs longer than about this
REPLY_LIMIT = 1 << 28  # bytes: a members() reply of a very large channel still fits


class SocketRoute(AppRoute):
    """Contract in :class:`pybroadcast.drivers.route.AppRoute`."""

    def __init__(self, path: str, owner: int | None = None) -> None:
        self.path = path
        self._owner = owner
        self._sock: socket.socket | None = None
        self._pid = 0
        self._buffer = b""

    def publish(self, event: Event) -> None:
        self._request(wire.pack(wire.PUBLISH, *event[:PUBLISHED]))

    def members(self, channel: str) -> list[str]:
        return self._request(wire.pack(wire.MEMBERS, channel))

    def history(self, channel: str, limit: int) -> Page | None:
        fields = self._request(wire.pack(wire.HISTORY, channel, str(limit)))
        if not fields:
            return None
        epoch, top, *entries = fields
        return Page(epoch, int(top), tuple(Event(MESSAGE, channel, data, name).at(int(offset), epoch)
                                           for offset, name, data in zip(*[iter(entries)] * 3)))

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
