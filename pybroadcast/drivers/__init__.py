"""The drivers, and the one place that knows their names.

A driver is a package ``pybroadcast.drivers.<name>`` offering three functions:

* ``hub_driver(settings) -> HubDriver`` — its side of a hub process: a Broker,
  a Presence and any server of its own (:mod:`pybroadcast.drivers.hub_side`);
* ``app_route(settings) -> AppRoute`` — how app processes reach it
  (:mod:`pybroadcast.drivers.route`);
* ``route_key(settings) -> tuple`` — which settings make two routes different.

A driver is imported on first use, so an app process loads only its own (the
Redis one brings redis-py and asyncio). Adding a driver: a package with those
three functions, its name in ``NAMES``, and its factory in ``tests/drivers.py``
so that every contract suite runs against it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs app processes ~4 ms to import
    from typing import Any

    from ..settings import Settings
    from .hub_side import HubDriver
    from .route import AppRoute

NAMES = ("memory", "redis")


def _package(name: str) -> Any:
    return __import__(f"pybroadcast.drivers.{name}", fromlist=["hub_driver"])


def hub_driver(settings: Settings) -> HubDriver:
    return _package(settings.driver).hub_driver(settings)


def app_route(settings: Settings) -> AppRoute:
    return _package(settings.driver).app_route(settings)


def route_key(settings: Settings) -> tuple[Any, ...]:
    return (settings.driver, *_package(settings.driver).route_key(settings))
