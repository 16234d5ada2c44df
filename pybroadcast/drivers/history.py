"""The History interface: what each channel's recent messages were, for recovery.

Implementations: :class:`pybroadcast.drivers.memory.history.MemoryHistory` (a
ring per channel in the hub) and :class:`pybroadcast.drivers.redis.history.RedisHistory`
(a Redis Stream per channel). ``tests/test_history_contract.py`` runs the same
contract against every driver. Imported by app processes: keep it light.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..events import Event

# Seconds a channel's epoch and top offset outlive its last publish, when longer than
# history_ttl: a channel that is quiet for a while keeps its epoch, so its
# subscribers' positions stay valid (its messages expire after history_ttl).
POSITION_TTL = 86400.0


def position_ttl(history_ttl: float) -> float:
    return max(history_ttl, POSITION_TTL)


def new_epoch() -> str:
    """A fresh epoch: random, so a restarted hub or an emptied Redis never reuses one."""
    return os.urandom(8).hex()


def placeholder(generation: str, now_ms: int) -> str:
    """The position of a channel without messages: "~<generation>:<time in ms>". The
    generation is the store's (a hub's life, a Redis data set); the time bounds its use."""
    return f"~{generation}:{now_ms}"


def _placeholder_parts(token: str) -> tuple[str, int] | None:
    generation, sep, ms = token[1:].partition(":")
    if not token.startswith("~") or not sep or not generation or not ms.isdigit():
        return None
    return generation, int(ms)


class Page(tuple):
    """(epoch, top, events, now): a channel's epoch, its newest offset (0: none yet in
    this epoch), recorded messages (oldest first), and the placeholder a reader of a
    channel without messages gets at the time of this read. A tuple: no typing import."""

    __slots__ = ()

    def __new__(cls, epoch: str, top: int, events: tuple[Event, ...] = (), now: str = "") -> Page:
        return tuple.__new__(cls, (epoch, top, events, now))

    @property
    def epoch(self) -> str:
        return self[0]

    @property
    def top(self) -> int:
        return self[1]

    @property
    def events(self) -> tuple[Event, ...]:
        return self[2]

    @property
    def now(self) -> str:
        return self[3]

    def since(self, epoch: str, offset: int) -> tuple[Event, ...] | None:
        """The messages after `offset` of `epoch` if this page holds every one of them
        (read with ``after=offset``), None when they cannot be recovered: another
        epoch (history was lost), or the next one is no longer kept.

        A placeholder position (taken when the channel had no messages) recovers the
        channel's messages from offset 1 while the store is the same one (same
        generation: nothing was lost since) and younger than POSITION_TTL (so the
        channel cannot have had, and forgotten, an epoch in between)."""
        if epoch != self.epoch and self._placeholder_valid(epoch) and offset == 0:
            epoch = self.epoch
        if epoch != self.epoch or not 0 <= offset <= self.top:
            return None
        events = self.events
        if offset == self.top:
            return ()
        if not events or events[0].offset != offset + 1 or events[-1].offset != self.top:
            return None
        return events

    def _placeholder_valid(self, token: str) -> bool:
        given, now = _placeholder_parts(token), _placeholder_parts(self.now)
        return given is not None and now is not None and given[0] == now[0] \
            and 0 <= now[1] - given[1] < POSITION_TTL * 1000


class History(ABC):
    """Contract, for every driver (a driver has one only when ``history_size > 0``):

    * A channel's first message starts its **epoch**, a token that changes whenever
      its history is lost (hub restart, Redis data loss, the channel forgotten after
      ``position_ttl(history_ttl)`` without a publish); its **top** is the offset of
      its newest message in that epoch.
    * The driver's Broker (and its AppRoute) give every published ``message`` the
      next offset, top + 1, and record it in the same atomic step as its delivery:
      offsets have no gaps, are the same on every node, and follow publish order.
      Delivered messages carry their ``offset`` and ``epoch``.
    * The newest ``history_size`` messages of a channel are kept, each until
      ``history_ttl`` seconds after the channel's last publish.
    * ``read(channel, after, limit)``: a :class:`Page` with the epoch, top and kept
      messages, oldest first: those after offset ``after`` (the oldest ``limit`` of
      them) or, when ``after`` is None, the newest ``limit``; and ``now``, the
      ``placeholder()`` of this store at this time. A read never writes (clients
      may read any channel name: that must not cost memory): a channel without an
      epoch reads as epoch ``now`` and top 0.
      Raises :class:`~pybroadcast.errors.Unreachable` when the backend cannot be
      reached.
    """

    @abstractmethod
    async def read(self, channel: str, after: int | None, limit: int) -> Page: ...
