"""The memory driver: one node. App processes reach the hub over its Unix command socket."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ...settings import Settings
    from ..hub_side import HubDriver
    from ..route import AppRoute


def hub_driver(settings: Settings) -> HubDriver:
    from .hub_side import MemoryHubDriver

    return MemoryHubDriver(settings)


def app_route(settings: Settings) -> AppRoute:
    from .route import SocketRoute

    return SocketRoute(settings.socket_path, settings.socket_owner)


def route_key(settings: Settings) -> tuple[Any, ...]:
    return settings.socket_path, settings.socket_owner
