"""Chooses the Broker and Presence implementations for the configured driver."""

from __future__ import annotations

from .broker import Broker
from .memory_broker import MemoryBroker
from .memory_presence import MemoryPresence
from .presence import Presence
from .settings import Settings


def create(settings: Settings) -> tuple[Broker, Presence]:
    if settings.driver == "memory":
        return MemoryBroker(), MemoryPresence()
    raise ValueError(f"driver {settings.driver!r} is not available yet")
