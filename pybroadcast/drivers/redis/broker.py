"""Redis Pub/Sub broker for many nodes; contract in :class:`pybroadcast.drivers.broker.Broker`.

Each node subscribes only to the topics of channels its clients use, plus the
users topic. Publishes go through one writer task that sends whatever has
queued up as one pipeline on one connection: events leave in the order they
were published, and a burst costs one round trip. With history on, a message
is published by the ``PUBLISH`` script, which records it and gives it its offset
in the same step (still one command in the pipeline). After any Pub/Sub reconnect
the node resubscribes in batches and says so in the log; what was published
while it was away is gone (Redis Pub/Sub keeps nothing).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from . import codec as event_codec, history as redis_history, keys as redis_keys
from ..broker import Broker, EventSink
from ...errors import Unconfirmed
from ...events import MESSAGE, Event
from ...redaction import redact_url
from .keys import KeySpace

log = logging.getLogger("pybroadcast")

SUBSCRIBE_BATCH = 500
PUBLISH_TIMEOUT = 1.0
MAX_BACKOFF = 1.0  # seconds between reconnect attempts, at most


# One queued publish: (KEYS of the PUBLISH script or None for a plain PUBLISH, its arguments, done).
_Item = tuple[list[str] | None, list[Any], asyncio.Future[None]]
_PUBLISH_SHA = hashlib.sha1(redis_keys.PUBLISH.encode()).hexdigest()


class RedisBroker(Broker):
    def __init__(self, client: aioredis.Redis, keys: KeySpace, url: str, history_size: int = 0,
                 history_ttl: float = 0.0) -> None:
        self._redis = client
        self._keys = keys
        self._url = redact_url(url)
        self._history = (history_size, history_ttl) if history_size else None
        self._sink: EventSink | None = None
        self._channels: set[str] = set()
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._queue: list[_Item] = []
        self._queued = asyncio.Event()
        self._connected = asyncio.Event()
        self._listening = asyncio.Event()  # subscribed to every topic (cleared while away)
        self._confirming: dict[bytes, asyncio.Future[None]] = {}  # topic -> waiting for "subscribe"
        self._background: set[asyncio.Task[Any]] = set()
        self._down = False
        self.on_reconnect: Any = None  # async callable run after a reconnect (presence resync)

    async def start(self, sink: EventSink) -> None:
        try:  # a bad URL stops start-up; an unreachable Redis does not (local clients are served)
            await asyncio.wait_for(self._redis.ping(), PUBLISH_TIMEOUT)
        except (TypeError, ValueError) as exc:
            raise redis_keys.invalid_url(self._url, exc) from None
        except (RedisError, OSError, TimeoutError):
            pass  # the reader logs the outage and keeps reconnecting
        self._sink = sink
        self._reader = asyncio.create_task(self._read_forever(), name="pybroadcast-redis-reader")
        self._writer = asyncio.create_task(self._write_forever(), name="pybroadcast-redis-writer")
        try:  # start listening before serving, but never block start-up on Redis
            await asyncio.wait_for(asyncio.shield(self._connected.wait()), PUBLISH_TIMEOUT)
        except TimeoutError:
            pass

    async def listen(self, channel: str) -> None:
        """Returns once Redis confirmed the subscription (or after a second, if it is away)."""
        self._channels.add(channel)
        if self._pubsub is None:
            return  # the reader subscribes to everything when it (re)connects
        topic = self._keys.topic(channel)
        confirmed = self._confirming.setdefault(topic.encode(), asyncio.get_running_loop().create_future())
        try:
            await self._pubsub.subscribe(topic)
            await asyncio.wait_for(asyncio.shield(confirmed), PUBLISH_TIMEOUT)
        except (RedisError, OSError, TimeoutError):
            pass  # the reader notices, reconnects and resubscribes everything
        finally:
            self._confirming.pop(topic.encode(), None)

    async def unlisten(self, channel: str) -> None:
        self._channels.discard(channel)
        if self._pubsub is not None:
            try:
                await self._pubsub.unsubscribe(self._keys.topic(channel))
            except (RedisError, OSError):
                pass

    async def publish(self, event: Event) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._history is not None and event.kind == MESSAGE:
            keys, args = redis_history.publish_call(self._keys, event, *self._history)
            self._queue.append((keys, args, done))
        else:
            self._queue.append((None, [self._keys.topic_for(event), event_codec.encode(event)], done))
        self._queued.set()
        try:
            await asyncio.wait_for(asyncio.shield(done), PUBLISH_TIMEOUT)
        except TimeoutError:
            raise Unconfirmed(f"redis at {self._url} did not confirm the publish within {PUBLISH_TIMEOUT:.0f} s;"
                              " it may still be delivered") from None

    async def wait_listening(self) -> None:
        """Returns once this node is subscribed to every topic it needs (at once when it is)."""
        await self._listening.wait()

    async def close(self) -> None:
        for task in (self._reader, self._writer):
            if task is not None:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        self._reader = self._writer = None
        await self._drop_pubsub()
        self._sink = None

    # --- tasks ----------------------------------------------------------------

    async def _write_forever(self) -> None:
        while True:
            await self._queued.wait()
            self._queued.clear()
            batch, self._queue = self._queue, []
            try:
                results = await self._send(batch)
                unknown = [item for item, result in zip(batch, results) if isinstance(result, NoScriptError)]
                if unknown:  # Redis restarted (or its scripts were flushed): load it, send those again
                    await self._redis.script_load(redis_keys.PUBLISH)
                    again = iter(await self._send(unknown))
                    results = [next(again) if isinstance(r, NoScriptError) else r for r in results]
            except (RedisError, OSError) as exc:
                error = redis_keys.unreachable(self._url, exc)
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(error)
                continue
            for (_, _, done), result in zip(batch, results):
                if done.done():
                    continue
                if isinstance(result, Exception):
                    done.set_exception(redis_history.failure(self._url, result))
                else:
                    done.set_result(None)

    async def _send(self, batch: list[_Item]) -> list[Any]:
        """One pipeline; each command's error comes back as its result."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                if keys is None:
                    pipe.publish(*args)
                else:
                    pipe.evalsha(_PUBLISH_SHA, len(keys), *keys, *args)
            return await pipe.execute(raise_on_error=False)

    async def _read_forever(self) -> None:
        backoff = 0.1
        while True:
            try:
                if self._pubsub is None:
                    await self._subscribe_all()
                    backoff = 0.1
                message = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as exc:
                if not self._down:
                    self._down = True
                    log.error("redis at %s unreachable (%s); serving local clients, reconnecting", self._url, exc)
                await self._drop_pubsub()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if message is None:
                continue
            kind = message.get("type")
            if kind == "message" and self._sink is not None:
                try:
                    self._sink(event_codec.decode(message["data"]))
                except ValueError as exc:
                    log.warning("ignored a malformed event on %s: %s", message.get("channel"), exc)
            elif kind == "subscribe":
                waiter = self._confirming.get(message["channel"])
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

    async def _subscribe_all(self) -> None:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._keys.users_topic)
        done: set[str] = set()
        # Until nothing is missing: listen() calls made while this runs only add to
        # self._channels, and no await separates the last check from installing pubsub.
        while missing := [c for c in self._channels if c not in done]:
            for i in range(0, len(missing), SUBSCRIBE_BATCH):
                await pubsub.subscribe(*(self._keys.topic(c) for c in missing[i:i + SUBSCRIBE_BATCH]))
            done.update(missing)
        self._pubsub = pubsub
        self._connected.set()
        self._listening.set()
        if self._down:
            self._down = False
            log.warning("reconnected to redis at %s; resubscribed %d channels", self._url, len(done))
            if self.on_reconnect is not None:
                task = asyncio.create_task(self.on_reconnect())
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    async def _drop_pubsub(self) -> None:
        self._listening.clear()
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except (RedisError, OSError, AttributeError):
                pass
