"""Driver factories for the contract suites: every driver runs the same tests.

Each factory takes the pytest request and yields (make_broker, make_presence).
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable

from pybroadcast.broker import Broker
from pybroadcast.memory_broker import MemoryBroker
from pybroadcast.memory_presence import MemoryPresence
from pybroadcast.presence import Presence

DRIVERS: dict[str, Callable[[], Any]] = {}


def driver(name: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    def register(factory: Callable[[], Any]) -> Callable[[], Any]:
        DRIVERS[name] = factory
        return factory
    return register


@driver("memory")
async def memory_driver(request: Any) -> AsyncIterator[tuple[Callable[[], Broker], Callable[[], Presence]]]:
    yield MemoryBroker, MemoryPresence


@driver("redis")
async def redis_driver(request: Any) -> AsyncIterator[tuple[Callable[[], Broker], Callable[[], Presence]]]:
    """Against the session's real redis-server, each test under its own key prefix."""
    import os

    from pybroadcast import drivers, settings

    server = request.getfixturevalue("redis_server")
    prefix = f"contract{os.getpid()}-{next(_prefixes)}"
    made: list[Any] = []

    def make(index: int) -> Any:
        resolved = settings.resolve({"driver": "redis", "redis_url": server.url, "redis_prefix": prefix,
                                     "presence_ttl": 3}, {}, {})
        pair = drivers.create(resolved)
        made.append(pair)
        return pair[index]

    yield (lambda: make(0)), (lambda: make(1))


_prefixes = __import__("itertools").count()
