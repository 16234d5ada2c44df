"""The hub's Unix command socket, through which app processes reach a memory-driver hub.

Requests are answered in ``data_received``, in the loop turn they arrive in: the memory
driver's broker, presence and history are synchronous (``MemoryPort``), so no task per
app connection and no await per request (asyncio streams and a task per client cost
7-10 µs of the ~75 µs round trip, measured).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
from typing import Any, Protocol

from ... import events, validation
from ...drivers.history import Page
from ...errors import BroadcastError
from . import socket_trust, wire

log = logging.getLogger("pybroadcast")

APP_EVENTS = frozenset((events.MESSAGE, events.DIRECT, events.DISCONNECT))


WATCH_INTERVAL = 1.0  # seconds between checks that the socket file is still ours


class MemoryPort(Protocol):
    """What the command socket asks of a memory-driver hub, synchronously (on the loop)."""

    def publish_now(self, event: events.Event) -> None: ...

    def members_now(self, channel: str) -> list[str]: ...

    def history_now(self, channel: str, limit: int) -> Page | None: ...


class CommandServer:
    def __init__(self, port: MemoryPort, path: str, max_message_size: int, is_default_path: bool = False) -> None:
        self._port = port
        self._path = path
        self._is_default = is_default_path
        self._max = max_message_size
        self._server: asyncio.AbstractServer | None = None
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the socket file we bound
        self._watch: asyncio.Task[None] | None = None
        self._clients: set[asyncio.Transport] = set()

    async def start(self) -> None:
        socket_trust.prepare_directory(self._path, self._is_default)
        _remove_stale_socket(self._path)
        await self._bind()
        log.info("command socket %s", self._path)
        self._watch = asyncio.create_task(self._watch_forever(), name="pybroadcast-command-socket-watch")

    async def _bind(self) -> None:
        old_umask = os.umask(0o117)  # the socket is created 0660 (owner and group)
        try:
            self._server = await asyncio.get_running_loop().create_unix_server(lambda: _AppConnection(self),
                                                                               self._path)
        finally:
            os.umask(old_umask)
        os.chmod(self._path, 0o660)
        self._identity = _identity(self._path)

    async def _watch_forever(self) -> None:
        """Notice the socket file being deleted (re-create it) or replaced (say so once)."""
        replaced = False
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            try:
                now = _identity(self._path)
            except FileNotFoundError:
                now = None
            if now == self._identity:
                continue
            if now is None:
                log.warning("command socket %s was deleted; created it again", self._path)
                assert self._server is not None
                self._server.close()
                try:
                    await self._bind()
                    replaced = False
                except OSError as exc:
                    log.error("command socket %s could not be created again: %s", self._path, exc)
            elif not replaced:
                replaced = True
                log.error("command socket %s was replaced by another process: app calls no longer reach this hub",
                          self._path)

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self._server is not None:
            self._server.close()
            for transport in list(self._clients):
                transport.close()
            await self._server.wait_closed()
            self.unlink()
            self._server = None

    def unlink(self) -> None:
        """Remove the socket file if it is still ours (never another hub's). Safe from any thread."""
        with contextlib.suppress(OSError):
            if self._identity is not None and _identity(self._path) == self._identity:
                os.unlink(self._path)

    def answer(self, request: list[str]) -> bytes:
        try:
            return wire.pack(wire.OK, *self._execute(request))
        except (ValueError, UnicodeDecodeError, BroadcastError) as exc:
            return wire.pack(wire.ERROR, str(exc) or type(exc).__name__)

    def _execute(self, request: list[str]) -> list[str]:
        op, *args = request or [""]
        if op == wire.PUBLISH and 3 <= len(args) <= 6:  # kind target data [name [exclude [user]]]
            event = events.Event(*args)
            if event.kind not in APP_EVENTS:
                raise ValueError(f"event kind {event.kind!r} cannot be sent by an app")
            if event.kind == events.MESSAGE:
                validation.channel(event.target)
            validation.message(event.data, self._max)
            self._port.publish_now(event)
            return []
        if op == wire.MEMBERS and len(args) == 1:
            return self._port.members_now(validation.channel(args[0]))
        if op == wire.HISTORY and len(args) == 2:
            page = self._port.history_now(validation.channel(args[0]), validation.history_limit(args[1]))
            if page is None:
                return []
            fields = [page.epoch, str(page.top)]
            for event in page.events:
                fields += (str(event.offset), event.name, event.data)
            return fields
        raise ValueError(f"unknown request {op!r}")


class _AppConnection(asyncio.Protocol):
    """One app process's connection: every complete request in what arrived is answered at once."""

    def __init__(self, server: CommandServer) -> None:
        self._server = server
        self._limit = wire.size_limit(server._max)
        self._buffer = b""
        self._transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self._transport = transport
        self._server._clients.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server._clients.discard(self._transport)
        if exc is not None:
            log.warning("command socket client dropped: %s", exc)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        replies = []
        try:
            while True:
                body, self._buffer = wire.split(self._buffer, self._limit)
                if body is None:
                    break
                replies.append(self._server.answer(wire.unpack(body)))
        except wire.MalformedMessage as exc:
            log.warning("command socket: dropped a client that sent a malformed request: %s", exc)
            self._transport.write(b"".join(replies))
            self._transport.close()
            return
        if replies:
            self._transport.write(b"".join(replies))

    # An app process that does not read its answers is not read either, until it does.
    def pause_writing(self) -> None:
        self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._transport.resume_reading()


def _identity(path: str) -> tuple[int, int]:
    info = os.lstat(path)
    return info.st_dev, info.st_ino


def _remove_stale_socket(path: str) -> None:
    """Refuse to steal a live hub's socket; remove one left by a hub that died."""
    if not os.path.exists(path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOTSOCK, errno.ENOENT):
            os.unlink(path)
            return
        raise
    else:
        raise BroadcastError(f"another hub is already serving the command socket {path}")
    finally:
        probe.close()
