"""Driver factories for the contract suites: every driver runs the same tests."""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable

from pybroadcast.broker import Broker
from pybroadcast.memory_broker import MemoryBroker
from pybroadcast.memory_presence import MemoryPresence
from pybroadcast.presence import Presence

# name -> async context factory yielding (make_broker, make_presence) for one node
DRIVERS: dict[str, Callable[[], Any]] = {}


def driver(name: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    def register(factory: Callable[[], Any]) -> Callable[[], Any]:
        DRIVERS[name] = factory
        return factory
    return register


@driver("memory")
async def memory_driver() -> AsyncIterator[tuple[Callable[[], Broker], Callable[[], Presence]]]:
    yield MemoryBroker, MemoryPresence
