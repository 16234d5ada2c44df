"""The Redis driver in a hub process: one client shared by the broker and presence."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ...settings import Settings
from ..hub_side import HubDriver, HubPort
from . import keys as redis_keys
from .broker import RedisBroker
from .history import RedisHistory
from .presence import RedisPresence


class RedisHubDriver(HubDriver):
    """Contract in :class:`pybroadcast.drivers.hub_side.HubDriver`.

    Wiring: after a Pub/Sub reconnect the broker asks presence to resynchronise
    (and history to give a data set that came back empty its generation again),
    and presence waits for the broker to listen again before it reports the
    transitions it replays (so members on this node hear them).
    """

    def __init__(self, settings: Settings) -> None:
        self._client = aioredis.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=redis_keys.CONNECT_TIMEOUT,
            socket_timeout=redis_keys.COMMAND_TIMEOUT * 2,
            health_check_interval=10,
            retry=redis_keys.retry_policy(Retry, NoBackoff()),
        )
        keys = redis_keys.KeySpace(settings.redis_prefix)
        self.broker = RedisBroker(self._client, keys, settings.redis_url, settings.history_size, settings.history_ttl)
        self._history = RedisHistory(self._client, keys, settings.redis_url) if settings.history_size else None
        self.history = self._history
        self.presence = RedisPresence(self._client, keys, settings.redis_url, settings.presence_ttl)
        self.broker.on_reconnect = self._after_reconnect
        self.presence.wait_listening = self.broker.wait_listening
        self._closed = False

    async def start_serving(self, hub: HubPort) -> None:
        if self._history is not None:
            await self._history.ensure_generation()

    async def _after_reconnect(self) -> None:
        if self._history is not None:
            await self._history.ensure_generation()
        await self.presence.after_reconnect()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.presence.close()
        await self.broker.close()
        await self._client.aclose()  # shared: after both
