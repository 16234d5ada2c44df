"""One client WebSocket connection as the hub sees it, and its outbound queue.

Frames are prepared once per message (by the peer's dialect) and written straight
to the connection's transport; the :class:`Outbox` joins every frame a peer
receives in one loop turn into one write. websockets' own ``broadcast()`` frames
the message again for every connection and writes each one separately, which
measured at about half the throughput. Control frames (ping, pong, close) stay
with websockets. Sharing the transport is correct only while a server frame
has no state, i.e. no extension (such as permessage-deflate) was negotiated:
:class:`Peer` checks that when it is made and refuses the connection otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from websockets.protocol import State

log = logging.getLogger("pybroadcast")


class FramingError(RuntimeError):
    """websockets negotiated an extension: prepared frames would corrupt the stream."""


class Peer:
    __slots__ = ("connection", "transport", "id", "user", "dialect", "channels", "identities", "dialect_state",
                 "pending", "closed", "ping", "_outbox")

    def __init__(self, connection: Any, peer_id: str, user: str | None, outbox: Outbox, dialect: Any = None) -> None:
        if connection.protocol.extensions:
            names = ", ".join(type(e).__name__ for e in connection.protocol.extensions)
            raise FramingError(f"the connection negotiated {names}: frames written by the hub would corrupt it;"
                               " the server must run with compression=None")
        self.connection = connection
        self.transport: asyncio.WriteTransport = connection.transport
        self.id = peer_id
        self.user = user
        self.dialect = dialect  # pybroadcast.dialects.Dialect: how frames for this peer are made
        self.channels: set[str] = set()
        self.identities: dict[str, str] = {}  # channel -> member id, where it is not `user` (Pusher presence)
        self.dialect_state: Any = None  # what the dialect keeps per connection (Pusher: client-event budget)
        self.pending: list[bytes] = []
        self.closed = False
        self.ping: asyncio.Task[None] | None = None  # the keepalive ping awaiting its pong (keepalive.py)
        self._outbox = outbox

    def send(self, frame: bytes) -> None:
        if not self.pending:
            self._outbox.mark(self)
        self.pending.append(frame)

    def close(self, code: int, reason: str) -> None:
        """Close with a close frame after what is already queued."""
        if not self.closed:
            self.closed = True
            self._outbox.flush_one(self)
            self._outbox.spawn(self.connection.close(code, reason))


# Most a flush may wait behind the previous one (bounds the latency batching adds).
MAX_FLUSH_WINDOW = 0.02


class Outbox:
    """Coalesces writes per peer and bounds each peer's buffer.

    Each ``send()`` costs a syscall (and, measured on loopback, ~70% of the hub's
    CPU goes to the kernel's TCP path), so the fewer writes the better. When idle,
    a flush runs on the next loop turn; under load, the next flush waits as long
    as the previous one took (at most MAX_FLUSH_WINDOW), so batches grow exactly
    when sending is the bottleneck and latency stays low when it is not.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self._loop = loop
        self._limit = limit
        self._dirty: list[Peer] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._next_flush = 0.0

    def mark(self, peer: Peer) -> None:
        if not self._dirty:
            if self._loop.time() >= self._next_flush:
                self._loop.call_soon(self.flush)
            else:
                self._loop.call_at(self._next_flush, self.flush)
        self._dirty.append(peer)

    def flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        started = self._loop.time()
        for peer in dirty:
            self.flush_one(peer)
        ended = self._loop.time()
        self._next_flush = ended + min(ended - started, MAX_FLUSH_WINDOW)

    def flush_one(self, peer: Peer) -> None:
        pending = peer.pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        if peer.connection.protocol.state is not State.OPEN:
            return
        transport = peer.transport
        if transport.get_write_buffer_size() + len(data) > self._limit:
            # The client reads slower than we send: drop it rather than let its
            # buffer grow until the ping timeout or delay everyone else.
            log.warning("closing slow client connection=%s user=%s: over %d bytes unsent",
                        peer.id, peer.user, self._limit)
            peer.closed = True
            transport.abort()
            return
        transport.write(data)

    def spawn(self, coroutine: Any) -> None:
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
