"""The HubDriver interface: one driver's side of a hub process."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

from ..events import Event
from .broker import Broker
from .history import History, Page
from .presence import Presence


class HubPort(Protocol):
    """What a driver's own servers may ask of the hub (on the hub's loop)."""

    async def publish(self, event: Event) -> None: ...

    async def members(self, channel: str) -> list[str]: ...

    async def history_page(self, channel: str, limit: int) -> Page | None: ...


class HubDriver(ABC):
    """Contract, for every driver (everything runs on the hub's loop thread but ``abandon``):

    * ``broker`` and ``presence`` are ready to be started by the hub
      (contracts: :class:`~pybroadcast.drivers.broker.Broker`,
      :class:`~pybroadcast.drivers.presence.Presence`); the driver wires them to
      each other itself (e.g. a reconnect that makes presence resynchronise).
    * ``history`` (:class:`~pybroadcast.drivers.history.History`) is None when
      ``history_size`` is 0; otherwise the broker records every message in it.
    * ``start_serving(hub)`` starts the driver's own servers, if any, once the
      broker and presence run (the memory driver's command socket); a
      :class:`~pybroadcast.errors.BroadcastError` stops the hub's start-up.
    * ``stop_serving()`` stops them first at shutdown, so app processes see the
      hub gone; ``close()`` then closes presence, the broker and whatever they
      share, in the order they need. Both are safe to call twice.
    * ``abandon()`` may be called from any thread when the hub's loop did not
      stop: it removes what would make app processes wait for a dead hub.
    """

    broker: Broker
    presence: Presence
    history: History | None = None  # None when history_size is 0

    async def start_serving(self, hub: HubPort) -> None:
        return None

    async def stop_serving(self) -> None:
        return None

    @abstractmethod
    async def close(self) -> None: ...

    def abandon(self) -> None:
        return None
