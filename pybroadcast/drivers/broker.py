"""The Broker interface: how events reach every hub node that needs them.

Implementations: each driver's ``broker`` module (``pybroadcast.drivers.<name>``).
``tests/test_broker_contract.py`` runs the same contract against every driver.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

from ..events import Event

EventSink = Callable[[Event], None]


class Broker(ABC):
    """Contract, for every driver:

    * ``start(sink)``: from then on, every event published anywhere for a channel
      this node listens to, and every ``direct``/``disconnect`` event, is handed
      to ``sink(event)`` on the hub's loop thread; ``sink`` does not block.
    * ``listen(channel)`` / ``unlisten(channel)``: the hub calls these when its
      first local subscriber arrives and when its last one leaves. Events for
      channels nobody on this node listens to are not delivered here.
    * ``publish(event)``: delivered once to every listening node, this one
      included. Events from one publisher to one channel arrive in order.
    * ``close()``: stops delivery and releases resources; safe to call twice.

    A broker that cannot reach its backend raises
    :class:`pybroadcast.errors.Unreachable` from ``publish``, naming the backend.
    """

    @abstractmethod
    async def start(self, sink: EventSink) -> None: ...

    @abstractmethod
    async def listen(self, channel: str) -> None: ...

    @abstractmethod
    async def unlisten(self, channel: str) -> None: ...

    @abstractmethod
    async def publish(self, event: Event) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...
