from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from harness.redis_server import RedisServer
from support import Hub


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def make_hub() -> Iterator[Callable[..., Hub]]:
    hubs: list[Hub] = []

    def make(config: dict[str, Any] | None = None, **kwargs: Any) -> Hub:
        hub = Hub(config, **kwargs)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        hub.close()


@pytest.fixture
def hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub()
