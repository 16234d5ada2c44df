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
    return _redis(settings)


def _redis(settings: Settings) -> tuple[Broker, Presence]:
    import redis.asyncio as aioredis  # only hubs of the redis driver pay for it
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    from . import redis_keys
    from .redis_broker import RedisBroker
    from .redis_presence import RedisPresence

    client = aioredis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=redis_keys.CONNECT_TIMEOUT,
        socket_timeout=redis_keys.COMMAND_TIMEOUT * 2,
        health_check_interval=10,
        retry=redis_keys.retry_policy(Retry, NoBackoff()),
    )
    keys = redis_keys.KeySpace(settings.redis_prefix)
    broker = RedisBroker(client, keys, settings.redis_url)
    presence = RedisPresence(client, keys, settings.redis_url, settings.presence_ttl)
    broker.on_reconnect = presence.after_reconnect
    presence.wait_listening = broker.wait_listening
    return broker, presence
