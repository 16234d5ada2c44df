"""One node's channel history: a bounded ring per channel, in the hub.

Contract in :class:`pybroadcast.drivers.history.History`. Runs on the hub's
loop thread only; ``record`` is synchronous, so assigning an offset and
recording the message is one step (the broker calls it before delivering).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Callable

from ...events import Event
from ..history import History, Page, new_epoch, placeholder, position_ttl

SWEEP_INTERVAL = 60.0  # seconds, at most, between sweeps of expired channels


class _Channel:
    __slots__ = ("epoch", "top", "ring", "expires", "forget")

    def __init__(self, size: int) -> None:
        self.epoch = new_epoch()
        self.top = 0
        self.ring: deque[Event] = deque(maxlen=size)
        self.expires = 0.0  # the messages, history_ttl after the last publish
        self.forget = 0.0  # the epoch and top


class MemoryHistory(History):
    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._ttl = ttl
        self._keep = position_ttl(ttl)
        self._clock = clock
        self._channels: dict[str, _Channel] = {}
        self._sweep: asyncio.TimerHandle | None = None
        self._generation = new_epoch()  # this hub's life: its history dies with it

    def record(self, event: Event) -> Event:
        """`event` at the next offset of its channel, kept in the ring."""
        now = self._clock()
        log = self._channel(event.target, now)
        if log is None:  # its first message (in this epoch): the channel starts here
            log = self._channels[event.target] = _Channel(self._size)
            self._arm()
        log.top += 1
        event = event.at(log.top, log.epoch)
        log.ring.append(event)
        log.expires = now + self._ttl
        log.forget = now + self._keep
        return event

    async def read(self, channel: str, after: int | None, limit: int) -> Page:
        return self.read_now(channel, after, limit)

    def read_now(self, channel: str, after: int | None, limit: int) -> Page:
        """``read``, for callers on the loop that cannot await (the command socket)."""
        now = self._clock()
        log = self._channel(channel, now)
        current = placeholder(self._generation, int(now * 1000))
        if log is None:  # nothing kept, nothing stored: a read costs no memory
            return Page(current, 0, (), current)
        ring = log.ring
        if limit <= 0 or not ring:
            return Page(log.epoch, log.top, (), current)
        if after is None:
            start = max(len(ring) - limit, 0)
        else:  # offsets in the ring are consecutive: index by arithmetic
            start = min(max(after + 1 - ring[0].offset, 0), len(ring))
        return Page(log.epoch, log.top, tuple(ring[i] for i in range(start, min(start + limit, len(ring)))), current)

    def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        self._channels.clear()

    def _channel(self, channel: str, now: float) -> _Channel | None:
        """The channel's log, its expired messages or the whole expired log dropped first."""
        log = self._channels.get(channel)
        if log is not None and now >= log.expires:
            if now >= log.forget:
                del self._channels[channel]
                return None
            log.ring.clear()
        return log

    def _arm(self) -> None:
        if self._sweep is None:
            self._sweep = asyncio.get_running_loop().call_later(min(self._ttl, SWEEP_INTERVAL), self._run_sweep)

    def _run_sweep(self) -> None:
        """Free what expired even if nobody touches the channel again."""
        self._sweep = None
        now = self._clock()
        for name in list(self._channels):
            self._channel(name, now)
        if self._channels:
            self._arm()
