"""The Redis driver: many nodes. Pub/Sub carries events, Redis holds presence,
and app processes publish to Redis directly."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ...settings import Settings
    from ..hub_side import HubDriver
    from ..route import AppRoute


def hub_driver(settings: Settings) -> HubDriver:
    from .hub_side import RedisHubDriver  # only hubs of this driver pay for redis-py's asyncio

    return RedisHubDriver(settings)


def app_route(settings: Settings) -> AppRoute:
    from .route import RedisRoute

    return RedisRoute(settings)


def route_key(settings: Settings) -> tuple[Any, ...]:
    return settings.redis_url, settings.redis_prefix
