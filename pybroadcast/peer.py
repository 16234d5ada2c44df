"""One client WebSocket connection as the hub sees it, and its outbound queue.

Frames are prepared once per message (by the peer's dialect) and written straight
to the connection's transport; the :class:`Outbox` joins every frame a peer
receives in one flush into one write. websockets' own ``broadcast()`` frames
the message again for every connection and writes each one separately, which
measured at about half the throughput. Control frames (ping, pong, close) stay
with websockets. Sharing the transport is correct only while a server frame
has no state, i.e. no extension (such as permessage-deflate) was negotiated:
:class:`Peer` checks that when it is made and refuses the connection otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from websockets.protocol import State

from .fanout_trace import FanoutTrace

log = logging.getLogger("pybroadcast")


class FramingError(RuntimeError):
    """websockets negotiated an extension: prepared frames would corrupt the stream."""


class Peer:
    __slots__ = ("connection", "transport", "id", "user", "dialect", "channels", "identities", "dialect_state",
                 "closed", "ping", "_outbox")

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
        self.closed = False
        self.ping: asyncio.Task[None] | None = None  # the keepalive ping awaiting its pong (keepalive.py)
        self._outbox = outbox

    def send(self, frame: bytes) -> None:
        self._outbox.send(self, frame)

    def close(self, code: int, reason: str) -> None:
        """Close with a close frame after what is already queued."""
        if not self.closed:
            self._outbox.flush()
            self.closed = True
            self._outbox.spawn(self.connection.close(code, reason))


# Most a flush may wait behind the previous one (bounds the latency batching adds).
MAX_FLUSH_WINDOW = 0.02
# Frames queued within this long of the last flush's end were queued while it ran (the loop
# reads what arrived during a flush right after it).
IDLE_GAP = 0.0005
# The loop is behind when writing each delivery on its own would take more than this share
# of its time (deliveries queued per second x seconds per write).
BEHIND = 1.0
SMOOTHING = 0.25  # weight of the newest flush in the running figures


class Outbox:
    """Queues frames in the order they are sent and writes each peer's share in one write per flush.

    A frame for many peers (a channel's message) is queued once, with the peers it goes
    to, not once per peer; consecutive frames for the same peers are joined once. Each
    ``send()`` costs a syscall (on loopback, the receiver's TCP path and wake-up too), so
    the fewer writes the better, but waiting costs latency. A flush runs on the next
    loop turn unless the loop is behind: frames were queued while the last flush ran,
    and writing each delivery on its own would take more than ``BEHIND`` of the loop's
    time (the load, measured in deliveries, not writes, so that it does not fall as
    batches grow). Then it waits as long as the last one took (at most
    MAX_FLUSH_WINDOW), so batches grow exactly when sending is the bottleneck.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int, trace: FanoutTrace | None = None) -> None:
        self._loop = loop
        self._limit = limit
        self._trace = trace
        self._queue: list[tuple[Any, bytes]] = []  # (a Peer or a tuple of Peers, frame), in order
        self._tasks: set[asyncio.Task[Any]] = set()
        self._flushed = 0.0  # when the last flush ended (loop time)
        self._next_flush = 0.0  # when the next may start, if the loop is behind
        self._began = 0.0  # when the last flush began (loop time)
        self._queued = 0  # deliveries (peer, frame) queued since then
        self._load = 0.0  # deliveries queued per second, smoothed
        self._cost = 0.0  # seconds per write, smoothed

    def send(self, peer: Peer, frame: bytes) -> None:
        if not self._queue:
            self._schedule()
        self._queue.append((peer, frame))
        self._queued += 1

    def send_all(self, peers: Any, frame: bytes) -> None:
        """`frame` to each of `peers`, as they are now (a later subscriber does not get it)."""
        if not self._queue:
            self._schedule()
        self._queue.append((tuple(peers), frame))
        self._queued += len(peers)
        if self._trace is not None:
            self._trace.queued(len(peers))

    def _schedule(self) -> None:
        loop = self._loop
        now = loop.time()
        if now >= self._next_flush or now - self._flushed > IDLE_GAP or self._load * self._cost <= BEHIND:
            loop.call_soon(self.flush)
        else:
            loop.call_at(self._next_flush, self.flush)

    def flush(self) -> None:
        queue = self._queue
        if not queue:
            return
        self._queue = []
        started = self._loop.time()
        if started > self._began:
            self._load += (self._queued / (started - self._began) - self._load) * SMOOTHING
        self._began, self._queued = started, 0
        wall = time.time() if self._trace is not None else 0.0
        runs = _runs(queue)
        write = self._write
        if len(runs) == 1:  # the usual case: one channel's messages
            target, data = runs[0]
            peers = target if type(target) is tuple else (target,)
            for peer in peers:
                write(peer, data)
            written = len(peers)
        else:
            each: dict[Peer, list[bytes]] = {}
            for target, data in runs:
                for peer in target if type(target) is tuple else (target,):
                    frames = each.get(peer)
                    if frames is None:
                        each[peer] = [data]
                    else:
                        frames.append(data)
            for peer, frames in each.items():
                write(peer, frames[0] if len(frames) == 1 else b"".join(frames))
            written = len(each)
        ended = self._flushed = self._loop.time()
        if written:
            self._cost += ((ended - started) / written - self._cost) * SMOOTHING
        if self._trace is not None:
            self._trace.flushed(wall, time.time(), written)
        self._next_flush = ended + min(ended - started, MAX_FLUSH_WINDOW)

    def _write(self, peer: Peer, data: bytes) -> None:
        if peer.closed or peer.connection.protocol.state is not State.OPEN:
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


def _runs(queue: list[tuple[Any, bytes]]) -> list[tuple[Any, bytes]]:
    """`queue` with consecutive frames for the same peers joined (a tuple compares by identity first)."""
    if len(queue) == 1:
        return queue
    runs: list[tuple[Any, bytes]] = []
    target, frames = queue[0][0], [queue[0][1]]
    for next_target, frame in queue[1:]:
        if next_target is target or (type(next_target) is tuple and type(target) is tuple and next_target == target):
            frames.append(frame)
        else:
            runs.append((target, frames[0] if len(frames) == 1 else b"".join(frames)))
            target, frames = next_target, [frame]
    runs.append((target, frames[0] if len(frames) == 1 else b"".join(frames)))
    return runs
