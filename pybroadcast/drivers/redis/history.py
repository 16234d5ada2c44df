"""Channel history in Redis (one stream per channel), for hubs and app processes alike.

Contract in :class:`pybroadcast.drivers.history.History`. Offsets are assigned by
the ``PUBLISH`` script (``keys.py``), which records and publishes a message in one
atomic step, so every node sees the same offsets in the same order. Imported by
app processes: no asyncio here.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError, ResponseError

from ...errors import BroadcastError
from ...events import Event
from ...redaction import redact_url
from ..history import History, Page, new_epoch, position_ttl
from . import codec as event_codec, keys as redis_keys
from .keys import KeySpace


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


def publish_call(keys: KeySpace, event: Event, size: int, ttl: float) -> tuple[list[str], list[Any]]:
    """(KEYS, ARGV) of the PUBLISH script for a message."""
    return keys.history_keys(event.target), [keys.topic(event.target), event_codec.encode(event), size, _ms(ttl),
                                             _ms(position_ttl(ttl)), new_epoch()]


def read_call(keys: KeySpace, channel: str, after: int | None, limit: int) -> tuple[list[str], list[Any]]:
    """(KEYS, ARGV) of the READ_HISTORY script."""
    return keys.history_keys(channel), ["" if after is None else after, limit]


def page(reply: list[Any]) -> Page:
    epoch, top, now, *recorded = reply
    return Page(_text(epoch), int(top), tuple(event_codec.decode(raw) for raw in recorded), _text(now))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def failure(url: str, exc: BaseException) -> BroadcastError:
    """The error for a failed script call; `url` already redacted."""
    if isinstance(exc, ResponseError):  # e.g. OOM: nothing was written
        return BroadcastError(f"redis at {url} refused the request: {exc}")
    return redis_keys.unreachable(url, exc)


class RedisHistory(History):
    def __init__(self, client: Any, keys: KeySpace, url: str) -> None:
        self._client = client
        self._keys = keys
        self._url = redact_url(url)
        self._read = client.register_script(redis_keys.READ_HISTORY)

    async def ensure_generation(self) -> None:
        """Gives the data set its generation if it has none (else the first publish does), so
        that placeholder positions read before any publish are valid; a failure changes nothing."""
        try:
            await self._client.set(self._keys.generation, new_epoch(), nx=True)
        except (RedisError, OSError):
            pass

    async def read(self, channel: str, after: int | None, limit: int) -> Page:
        keys, args = read_call(self._keys, channel, after, limit)
        try:
            return page(await self._read(keys=keys, args=args))
        except (RedisError, OSError) as exc:
            raise failure(self._url, exc) from None
        except ValueError as exc:  # not written by pybroadcast
            raise BroadcastError(f"history of {channel} in redis at {self._url} is malformed: {exc}") from None
