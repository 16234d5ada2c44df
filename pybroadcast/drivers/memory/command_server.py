"""The hub's Unix command socket, through which app processes reach a memory-driver hub."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
from typing import Any

from ... import events, validation
from ...errors import BroadcastError
from ..hub_side import HubPort
from . import socket_trust, wire

log = logging.getLogger("pybroadcast")

APP_EVENTS = frozenset((events.MESSAGE, events.DIRECT, events.DISCONNECT))


WATCH_INTERVAL = 1.0  # seconds between checks that the socket file is still ours


class CommandServer:
    def __init__(self, hub: HubPort, path: str, max_message_size: int, is_default_path: bool = False) -> None:
        self._hub = hub
        self._path = path
        self._is_default = is_default_path
        self._max = max_message_size
        self._server: asyncio.AbstractServer | None = None
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the socket file we bound
        self._watch: asyncio.Task[None] | None = None
        self._clients: dict[asyncio.StreamWriter, asyncio.Task[Any]] = {}

    async def start(self) -> None:
        socket_trust.prepare_directory(self._path, self._is_default)
        _remove_stale_socket(self._path)
        await self._bind()
        log.info("command socket %s", self._path)
        self._watch = asyncio.create_task(self._watch_forever(), name="pybroadcast-command-socket-watch")

    async def _bind(self) -> None:
        old_umask = os.umask(0o117)  # the socket is created 0660 (owner and group)
        try:
            self._server = await asyncio.start_unix_server(self._serve, self._path)
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
            for writer in list(self._clients):
                writer.close()
            # Let each client's task see EOF and end: one cancelled at loop exit
            # makes Python 3.11's StreamReaderProtocol log a traceback.
            if self._clients:
                await asyncio.wait(list(self._clients.values()), timeout=1.0)
            await self._server.wait_closed()
            self.unlink()
            self._server = None

    def unlink(self) -> None:
        """Remove the socket file if it is still ours (never another hub's). Safe from any thread."""
        with contextlib.suppress(OSError):
            if self._identity is not None and _identity(self._path) == self._identity:
                os.unlink(self._path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Reads whatever has arrived and answers every complete request in it:
        # one await per batch, not two per request (measured: asyncio's per-await
        # cost was half of the hub's time per request).
        self._clients[writer] = asyncio.current_task()  # type: ignore[assignment]
        limit = wire.size_limit(self._max)
        buffer = b""
        try:
            while chunk := await reader.read(1 << 16):
                buffer += chunk
                replies = []
                while True:
                    body, buffer = wire.split(buffer, limit)
                    if body is None:
                        break
                    replies.append(await self._answer(wire.unpack(body)))
                writer.write(b"".join(replies))
                if writer.transport.get_write_buffer_size() > 1 << 16:
                    await writer.drain()  # only when the app process is not reading
        except wire.MalformedMessage as exc:
            log.warning("command socket: dropped a client that sent a malformed request: %s", exc)
        except ConnectionError as exc:
            log.warning("command socket client dropped: %s", exc)
        finally:
            self._clients.pop(writer, None)
            writer.close()

    async def _answer(self, request: list[str]) -> bytes:
        try:
            return wire.pack(wire.OK, *await self._execute(request))
        except (ValueError, UnicodeDecodeError, BroadcastError) as exc:
            return wire.pack(wire.ERROR, str(exc) or type(exc).__name__)

    async def _execute(self, request: list[str]) -> list[str]:
        op, *args = request or [""]
        if op == wire.PUBLISH and 3 <= len(args) <= 6:  # kind target data [name [exclude [user]]]
            event = events.Event(*args)
            if event.kind not in APP_EVENTS:
                raise ValueError(f"event kind {event.kind!r} cannot be sent by an app")
            if event.kind == events.MESSAGE:
                validation.channel(event.target)
            validation.message(event.data, self._max)
            await self._hub.publish(event)
            return []
        if op == wire.MEMBERS and len(args) == 1:
            return await self._hub.members(validation.channel(args[0]))
        if op == wire.HISTORY and len(args) == 2:
            page = await self._hub.history_page(validation.channel(args[0]), validation.history_limit(args[1]))
            if page is None:
                return []
            fields = [page.epoch, str(page.top)]
            for event in page.events:
                fields += (str(event.offset), event.name, event.data)
            return fields
        raise ValueError(f"unknown request {op!r}")


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
