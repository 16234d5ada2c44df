"""What app processes run for ``broadcast()`` and friends.

Only this module (and the small ones it imports) is loaded in php-fpm workers:
no asyncio, no websockets. Each call validates its arguments and goes through
an :class:`~pybroadcast.drivers.route.AppRoute`: inside the hub process
(``local.current``) the hub's own, otherwise the configured driver's, made once
per process and settings.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs app processes ~4 ms to import
    from typing import Any, Mapping

    from .drivers.route import AppRoute

from . import drivers, local, settings as settings_mod, validation
from .events import DIRECT, DISCONNECT, MESSAGE, Event

_settings_cache: dict[tuple[Any, ...], settings_mod.Settings] = {}
_routes: dict[tuple[Any, ...], AppRoute] = {}


def broadcast(ini: Mapping[str, Any], channel: bytes, message: bytes, name: bytes | None = None) -> None:
    settings = _settings(ini)
    event = Event(MESSAGE, validation.channel(channel), validation.message(message, settings.max_message_size),
                  validation.event_name(name))
    _route(settings).publish(event)


def broadcast_to_user(ini: Mapping[str, Any], user: bytes | int, message: bytes, name: bytes | None = None) -> None:
    settings = _settings(ini)
    event = Event(DIRECT, validation.user_id(user), validation.message(message, settings.max_message_size),
                  validation.event_name(name))
    _route(settings).publish(event)


def channel_users(ini: Mapping[str, Any], channel: bytes) -> list[str]:
    settings = _settings(ini)
    return _route(settings).members(validation.channel(channel))


def channel_history(ini: Mapping[str, Any], channel: bytes, limit: int = 100) -> list[Any]:
    """[messages, position]: the newest `limit` kept messages of `channel`, oldest first, each
    {offset, data, event}; position {epoch, offset} (the channel's top), None when history is off."""
    settings = _settings(ini)
    channel_name, count = validation.channel(channel), validation.history_limit(limit)
    page = _route(settings).history(channel_name, count)
    if page is None:
        return [[], None]
    messages = [{"offset": e.offset, "data": e.data, "event": e.name or None} for e in page.events]
    return [messages, {"epoch": page.epoch, "offset": page.top}]


def disconnect_user(ini: Mapping[str, Any], user: bytes | int) -> None:
    settings = _settings(ini)
    _route(settings).publish(Event(DISCONNECT, validation.user_id(user)))


def _settings(ini: Mapping[str, Any]) -> settings_mod.Settings:
    key = tuple(ini.items())
    cached = _settings_cache.get(key)
    if cached is None:
        cached = _settings_cache[key] = settings_mod.resolve(None, ini)
    return cached


def _route(settings: settings_mod.Settings) -> AppRoute:
    hub = local.current
    if hub is not None:
        if hub.pid == os.getpid():
            return hub.route
        settings = hub.settings  # a child forked from the hub talks to its parent's hub
    key = drivers.route_key(settings)
    route = _routes.get(key)
    if route is None:
        route = _routes[key] = drivers.app_route(settings)
    return route
