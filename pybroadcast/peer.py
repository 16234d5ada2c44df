"""One client WebSocket connection as the hub sees it, and its outbound queue.

Frames are prepared once per message (by the peer's dialect) and written straight
to the connection's socket (a sweep's, in one C loop: send_many.py) or, while bytes
wait for it, its transport; the :class:`Outbox` joins every frame a peer receives in
one flush into one write. websockets' own ``broadcast()`` frames the message again
for every connection and writes each one separately, which measured at about half
the throughput. Control frames (ping, pong, close) are written by the connection
(connection.py) from websockets' Sans-I/O protocol. Sharing the connection is
correct only while a server frame has no state, i.e. no extension (such as
permessage-deflate) is negotiated: the hub's connections accept none (connection.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from websockets.protocol import State

from .fanout_trace import FanoutTrace
from .send_many import send_many

log = logging.getLogger("pybroadcast")
OPEN = State.OPEN


class Peer:
    __slots__ = ("connection", "protocol", "transport", "id", "user", "dialect", "channels", "identities",
                 "dialect_state", "closed", "_outbox")

    def __init__(self, connection: Any, peer_id: str, user: str | None, outbox: Outbox, dialect: Any = None) -> None:
        self.connection = connection
        self.protocol = connection.protocol  # websockets' Sans-I/O state (read on every write)
        self.transport: asyncio.WriteTransport = connection.transport
        self.id = peer_id
        self.user = user
        self.dialect = dialect  # pybroadcast.dialects.Dialect: how frames for this peer are made
        self.channels: set[str] = set()
        self.identities: dict[str, str] = {}  # channel -> member id, where it is not `user` (Pusher presence)
        self.dialect_state: Any = None  # what the dialect keeps per connection (Pusher: client-event budget)
        self.closed = False
        self._outbox = outbox

    def send(self, frame: bytes) -> None:
        self._outbox.send(self, frame)

    def close(self, code: int, reason: str) -> None:
        """Close with a close frame after what is already queued."""
        if not self.closed:
            self._outbox.flush(at_once=True)
            self.closed = True
            self.connection.close(code, reason)


# Most a flush may wait behind the previous one (bounds the latency batching adds).
MAX_FLUSH_WINDOW = 0.02
# Frames queued within this long of the last flush's end were queued while it ran (the loop
# reads what arrived during a flush right after it).
IDLE_GAP = 0.0005
# The loop is behind when writing each delivery on its own would take more than this share
# of its time (deliveries queued per second x seconds per write).
BEHIND = 1.0
SMOOTHING = 0.25  # weight of the newest figure in the running ones
LOAD_PERIOD = 0.1  # seconds over which the load is counted (not per flush: a sweep's follow-up
# flush comes right after it, and would count what joined the sweep over no time at all)
# Peers a sweep writes per loop turn (~1 ms on loopback): between slices the loop reads app
# calls and clients, and a message for the same peers joins the sweep in progress.
SLICE = 128


class Outbox:
    """Queues frames in the order they are sent and writes each peer's share in one write per flush.

    A frame for many peers (a channel's message) is queued once, with the peers it goes
    to, not once per peer; consecutive frames for the same peers are joined once. One
    channel's messages are written in a *sweep*, a slice of peers per loop turn; unless
    the loop is behind, a message for the same peers that arrives meanwhile joins it (the
    peers still to come get both in one write, those done get it next), so it waits for
    no sweep to end.
    Each ``send()`` costs a syscall (on loopback, the receiver's TCP path and wake-up
    too), so the fewer writes the better, but waiting costs latency. A flush starts on
    the next loop turn unless the loop is behind: frames were queued while the last
    flush ran, and writing each delivery on its own would take more than ``BEHIND`` of
    the loop's time (the load is counted in deliveries, not writes, so that it does not
    fall as batches grow). Then it waits as long as the last one spent writing (at most
    MAX_FLUSH_WINDOW), so batches grow exactly when sending is the bottleneck.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int, trace: FanoutTrace | None = None) -> None:
        self._loop = loop
        self._limit = limit
        self._trace = trace
        self._queue: list[tuple[Any, bytes]] = []  # (a Peer or a tuple of Peers, frame), in order
        self._sweep: tuple[Peer, ...] = ()  # the peers of the sweep in progress
        self._data = b""  # what its peers from `_at` on get
        self._at = 0
        self._writes = 0  # writes of the flush in progress
        self._spent = 0.0  # seconds it has spent writing
        self._wall = 0.0  # when it began (time.time(), for the trace)
        self._flushed = 0.0  # when the last flush ended (loop time)
        self._next_flush = 0.0  # when the next may start, if the loop is behind
        self._counted = 0.0  # when the current load period began (loop time)
        self._queued = 0  # deliveries (peer, frame) queued since then
        self._load = 0.0  # deliveries queued per second, smoothed
        self._cost = 0.0  # seconds per write, smoothed

    def send(self, peer: Peer, frame: bytes) -> None:
        if not self._queue and not self._sweep:
            self._schedule(False)
        self._queue.append((peer, frame))
        self._queued += 1

    def send_all(self, peers: Any, frame: bytes) -> None:
        """`frame` to each of `peers`, as they are now (a later subscriber does not get it)."""
        if not self._queue and not self._sweep:
            self._schedule(False)
        self._queue.append((tuple(peers), frame))
        self._queued += len(peers)
        if self._trace is not None:
            self._trace.queued(len(peers))

    def _schedule(self, during: bool) -> None:
        """`during`: the frames were queued while the last flush ran."""
        loop = self._loop
        now = loop.time()
        if not during:
            during = now - self._flushed <= IDLE_GAP
        if not during or now >= self._next_flush or self._load * self._cost <= BEHIND:
            loop.call_soon(self.flush)
        else:
            loop.call_at(self._next_flush, self.flush)

    def flush(self, at_once: bool = False) -> None:
        """Writes what is queued; `at_once`: all of it now, no slices (a peer is closing)."""
        while True:
            if self._sweep:
                if self._load * self._cost <= BEHIND:
                    self._join_sweep()
                if not self._continue(at_once) or not at_once:
                    return  # the rest of the sweep, or what queued meanwhile, on a later loop turn
            queue = self._queue
            if not queue:
                return
            self._queue = []
            self._begin()
            runs = _runs(queue)
            if len(runs) == 1 and type(runs[0][0]) is tuple:  # one channel's messages: a sweep
                self._sweep, self._data = runs[0]
                self._at = 0
                continue
            self._write_each(runs)
            self._end()
            if not at_once:
                return

    def _begin(self) -> None:
        started = self._loop.time()
        if started - self._counted >= LOAD_PERIOD:
            self._load += (self._queued / (started - self._counted) - self._load) * SMOOTHING
            self._counted, self._queued = started, 0
        if self._trace is not None:
            self._wall = time.time()

    def _continue(self, at_once: bool) -> bool:
        """Writes the sweep's next slice (or all of it); True once the sweep is done."""
        sweep, at, data = self._sweep, self._at, self._data
        stop = len(sweep) if at_once else min(at + SLICE, len(sweep))
        started = self._loop.time()
        self._write_all(sweep[at:stop], data)
        self._spent += self._loop.time() - started
        self._writes += stop - at
        self._at = stop
        if stop < len(sweep):
            self._loop.call_soon(self.flush)
            return False
        self._sweep, self._data = (), b""
        self._end()
        return True

    def _join_sweep(self) -> None:
        """Messages for the sweep's peers queued since it began join it: the peers still to come get
        them with it, those already written to get them next. Only while the queue starts with such
        messages: one queued after anything else keeps its place behind it. (Not when the loop is
        behind: then each join would leave the peers done a write of their own, and batching is
        what it needs.)"""
        queue, sweep, at = self._queue, self._sweep, self._at
        joined = 0
        for target, _ in queue:
            if not _same_peers(target, sweep):
                break
            joined += 1
        if joined:
            self._data = b"".join([self._data, *(frame for _, frame in queue[:joined])])
            done = sweep[:at]
            self._queue = [(done, frame) for _, frame in queue[:joined]] + queue[joined:] if at else queue[joined:]

    def _write_each(self, runs: list[tuple[Any, bytes]]) -> None:
        """Several targets: each peer's frames, in order, in one write."""
        started = self._loop.time()
        each: dict[Peer, list[bytes]] = {}
        for target, data in runs:
            for peer in target if type(target) is tuple else (target,):
                frames = each.get(peer)
                if frames is None:
                    each[peer] = [data]
                else:
                    frames.append(data)
        for peer, frames in each.items():
            self._write(peer, _joined(frames))
        self._spent += self._loop.time() - started
        self._writes += len(each)

    def _end(self) -> None:
        ended = self._flushed = self._loop.time()
        if self._writes:
            self._cost += (self._spent / self._writes - self._cost) * SMOOTHING
        if self._trace is not None:
            self._trace.flushed(self._wall, time.time(), self._writes)
        self._next_flush = ended + min(self._spent, MAX_FLUSH_WINDOW)
        self._writes, self._spent = 0, 0.0
        if self._queue:
            self._schedule(True)

    def _write_all(self, peers: tuple[Peer, ...], data: bytes) -> None:
        """`data` to each of `peers`: in one C loop to those whose socket takes it now (HubConnection's
        ``direct_fd``), through the transport to the others and for what a socket did not take."""
        fds: list[int] = []
        direct: list[Peer] = []
        for peer in peers:
            fd = peer.connection.direct_fd
            if fd >= 0 and not peer.closed:
                fds.append(fd)
                direct.append(peer)
            else:
                self._write(peer, data)
        if fds:
            for i, taken in send_many(fds, data):
                direct[i].transport.write(data[taken:])

    def _write(self, peer: Peer, data: bytes) -> None:
        if peer.closed or peer.protocol.state is not OPEN:
            return
        transport = peer.transport
        if transport.get_write_buffer_size() > self._limit:
            # The client reads slower than we send: drop it rather than let its
            # buffer grow until the ping timeout or delay everyone else. (What the kernel
            # has not taken yet, not this write: a batch may be larger than the bound.)
            log.warning("closing slow client connection=%s user=%s: over %d bytes unsent",
                        peer.id, peer.user, self._limit)
            peer.closed = True
            peer.connection.abort()
            return
        transport.write(data)


def _runs(queue: list[tuple[Any, bytes]]) -> list[tuple[Any, bytes]]:
    """`queue` with consecutive frames for the same peers joined."""
    if len(queue) == 1:
        return queue
    runs: list[tuple[Any, bytes]] = []
    target, frames = queue[0][0], [queue[0][1]]
    for next_target, frame in queue[1:]:
        if _same_peers(next_target, target):
            frames.append(frame)
        else:
            runs.append((target, _joined(frames)))
            target, frames = next_target, [frame]
    runs.append((target, _joined(frames)))
    return runs


def _same_peers(one: Any, other: Any) -> bool:
    """Whether two queue targets (a Peer, or a tuple of Peers) are the same peers in the same order;
    tuples of Peers compare element by element, identity first."""
    return one is other or (type(one) is tuple and type(other) is tuple and one == other)


def _joined(frames: list[bytes]) -> bytes:
    return frames[0] if len(frames) == 1 else b"".join(frames)
