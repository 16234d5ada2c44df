"""The Redis driver's app route: publish to Redis directly, read presence there.

One connection per process (per php-fpm worker), reused across requests;
redis-py's pool notices a fork and reconnects in the child.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, TimeoutError as RedisTimeoutError
from redis.retry import Retry

from . import codec as event_codec, history as redis_history, keys as redis_keys
from ...errors import Unconfirmed
from ...events import MESSAGE, Event
from ...redaction import redact_url
from ...settings import Settings
from ..history import Page
from ..route import AppRoute


class RedisRoute(AppRoute):
    """Contract in :class:`pybroadcast.drivers.route.AppRoute`."""

    def __init__(self, settings: Settings) -> None:
        self._url = redact_url(settings.redis_url)
        self._keys = redis_keys.KeySpace(settings.redis_prefix)
        self._redis = redis.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=redis_keys.CONNECT_TIMEOUT,
            socket_timeout=redis_keys.COMMAND_TIMEOUT,
            retry=redis_keys.retry_policy(Retry, NoBackoff()),
        )
        self._members = self._redis.register_script(redis_keys.MEMBERS)
        self._publish = self._redis.register_script(redis_keys.PUBLISH)
        self._read = self._redis.register_script(redis_keys.READ_HISTORY)
        self._history = (settings.history_size, settings.history_ttl)

    def publish(self, event: Event) -> None:
        if self._history[0] and event.kind == MESSAGE:  # recorded and published in one step
            keys, args = redis_history.publish_call(self._keys, event, *self._history)
            self._call(self._publish, keys=keys, args=args)
        else:
            self._call(self._redis.publish, self._keys.topic_for(event), event_codec.encode(event))

    def history(self, channel: str, limit: int) -> Page | None:
        if not self._history[0]:
            return None
        keys, args = redis_history.read_call(self._keys, channel, None, limit)
        return redis_history.page(self._call(self._read, keys=keys, args=args))

    def members(self, channel: str) -> list[str]:
        return [u.decode() for u in self._call(self._members, keys=[self._keys.conns(channel)])]

    def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except RedisTimeoutError as exc:
            if redis_keys.is_connect_timeout(exc):
                raise redis_keys.unreachable(self._url, exc) from None
            raise Unconfirmed(f"redis at {self._url} did not confirm the publish: {exc}; it may still be delivered") from None
        except (RedisError, OSError) as exc:
            raise redis_history.failure(self._url, exc) from None
        except (TypeError, ValueError) as exc:
            raise redis_keys.invalid_url(self._url, exc) from None
