"""In-process broker for a single node; contract in :class:`pybroadcast.drivers.broker.Broker`."""

from __future__ import annotations

from ...events import MESSAGE, USER_KINDS, Event
from ..broker import Broker, EventSink
from .history import MemoryHistory


class MemoryBroker(Broker):
    def __init__(self, history: MemoryHistory | None = None) -> None:
        self._sink: EventSink | None = None
        self._channels: set[str] = set()
        self._history = history  # records every message, listened to or not (its subscriber may be reconnecting)

    async def start(self, sink: EventSink) -> None:
        self._sink = sink

    async def listen(self, channel: str) -> None:
        self._channels.add(channel)

    async def unlisten(self, channel: str) -> None:
        self._channels.discard(channel)

    async def publish(self, event: Event) -> None:
        self.publish_now(event)

    def publish_now(self, event: Event) -> None:
        """``publish``, for callers on the loop that cannot await (the command socket)."""
        if self._history is not None and event.kind == MESSAGE:
            event = self._history.record(event)
        sink = self._sink
        if sink is not None and (event.kind in USER_KINDS or event.target in self._channels):
            sink(event)

    async def close(self) -> None:
        self._sink = None
        self._channels.clear()
        if self._history is not None:
            self._history.close()
