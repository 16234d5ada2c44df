"""Driver factories for the contract suites: every driver runs the same tests.

Each factory is an async context manager taking the pytest request; it yields
a function that makes a started-nothing HubDriver (its broker, presence and
history are what the suites test), taking settings to change (e.g.
``history_size=3``), and closes every driver it made on exit.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from typing import Any, AsyncIterator, Callable

from pybroadcast import drivers, settings
from harness.processes import short_tempdir
from pybroadcast.drivers.hub_side import HubDriver

DRIVERS: dict[str, Callable[[Any], Any]] = {}
_prefixes = itertools.count()


def driver(name: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    def register(factory: Callable[[Any], Any]) -> Callable[[Any], Any]:
        DRIVERS[name] = contextlib.asynccontextmanager(factory)
        return factory
    return register


async def _made(options: dict[str, Any]) -> AsyncIterator[Callable[..., HubDriver]]:
    made: list[HubDriver] = []

    def make(**changes: Any) -> HubDriver:
        made.append(drivers.hub_driver(settings.resolve({**options, **changes}, {}, {})))
        return made[-1]

    try:
        yield make
    finally:
        for hub_driver in made:
            await hub_driver.close()


@driver("memory")
async def memory_driver(request: Any) -> AsyncIterator[Callable[..., HubDriver]]:
    async for make in _made({"driver": "memory", "socket": os.path.join(short_tempdir(), "hub.sock")}):
        yield make


@driver("redis")
async def redis_driver(request: Any) -> AsyncIterator[Callable[..., HubDriver]]:
    """Against the session's real redis-server, each test under its own key prefix."""
    server = request.getfixturevalue("redis_server")
    async for make in _made({"driver": "redis", "redis_url": server.url, "presence_ttl": 3,
                             "redis_prefix": f"contract{os.getpid()}-{next(_prefixes)}"}):
        yield make


assert set(DRIVERS) == set(drivers.NAMES), "every driver needs a factory here"
