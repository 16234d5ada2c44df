"""Presence held in Redis for many nodes; contract in :class:`pybroadcast.presence.Presence`.

Each node owns the entries of its own connections and refreshes them every
``presence_ttl / 4``; an entry lives ``presence_ttl * 2/3`` past its last
refresh, so a node that dies (kill -9) has its entries expire and pruned by a
surviving node within ``presence_ttl``, and that node reports the leaves once.

While Redis is unreachable, joins and leaves are remembered and replayed (with
their transitions reported) once it is back; then every entry this node owns
is written again, silently, in case Redis lost its data. Pruning waits one
``presence_ttl`` after start-up and after an outage, so that nodes coming back
have rewritten their entries before anyone prunes them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from . import redis_keys
from .events import JOIN, LEAVE
from .presence import ChangeCallback, Presence
from .redis_keys import KeySpace, member, redact

log = logging.getLogger("pybroadcast")

REFRESH_BATCH = 1000


class RedisPresence(Presence):
    def __init__(self, client: aioredis.Redis, keys: KeySpace, url: str, ttl: float) -> None:
        self._redis = client
        self._keys = keys
        self._url = redact(url)
        self._ttl = ttl
        self._lifetime_ms = int(ttl * 1000 * 2 / 3)
        self._join = client.register_script(redis_keys.JOIN)
        self._leave = client.register_script(redis_keys.LEAVE)
        self._refresh = client.register_script(redis_keys.REFRESH)
        self._prune = client.register_script(redis_keys.PRUNE)
        self._members = client.register_script(redis_keys.MEMBERS)
        self._mine: dict[str, dict[str, str]] = {}  # channel -> connection -> user
        self._pending: list[tuple[str, str, str, str]] = []  # (kind, channel, user, connection) not yet in Redis
        self._on_change: ChangeCallback | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._down = False
        self._prune_after = 0.0
        self._resync_lock = asyncio.Lock()
        self._resynced_at = float("-inf")

    async def start(self, on_change: ChangeCallback) -> None:
        self._on_change = on_change
        loop = asyncio.get_running_loop()
        self._prune_after = loop.time() + self._ttl
        self._tasks = [asyncio.create_task(self._refresh_forever(), name="pybroadcast-presence-refresh"),
                       asyncio.create_task(self._prune_forever(), name="pybroadcast-presence-prune")]

    async def join(self, channel: str, user: str, connection: str) -> bool:
        self._mine.setdefault(channel, {})[connection] = user
        if self._down:
            self._pending.append((JOIN, channel, user, connection))
            return False
        try:
            return bool(await self._join(keys=self._keys.presence_keys(channel),
                                         args=[member(user, connection), user, self._lifetime_ms, channel]))
        except (RedisError, OSError) as exc:
            self._outage(exc)
            self._pending.append((JOIN, channel, user, connection))
            return False

    async def leave(self, channel: str, user: str, connection: str) -> bool:
        mine = self._mine.get(channel)
        if mine is not None:
            mine.pop(connection, None)
            if not mine:
                del self._mine[channel]
        if self._down:
            self._pending.append((LEAVE, channel, user, connection))
            return False
        try:
            return bool(await self._leave(keys=self._keys.presence_keys(channel),
                                          args=[member(user, connection), user, channel]))
        except (RedisError, OSError) as exc:
            self._outage(exc)
            self._pending.append((LEAVE, channel, user, connection))
            return False

    async def members(self, channel: str) -> list[str]:
        try:
            users = await self._members(keys=[self._keys.conns(channel)])
        except (RedisError, OSError) as exc:
            raise redis_keys.unreachable(self._url, exc) from None
        return [u.decode() if isinstance(u, bytes) else u for u in users]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []

    # --- outage and recovery ---------------------------------------------------

    def _outage(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            log.error("presence: redis at %s unreachable (%s); joins and leaves will be replayed", self._url, exc)

    async def resync(self) -> None:
        """Replay what happened during an outage, then rewrite this node's entries.

        Both the refresh loop and the broker's reconnect ask for it; one run serves both.
        """
        loop = asyncio.get_running_loop()
        async with self._resync_lock:
            if not self._down and not self._pending and loop.time() - self._resynced_at < 1.0:
                return
            await self._resync()
            self._resynced_at = loop.time()

    async def _resync(self) -> None:
        pending, self._pending = self._pending, []
        self._down = False
        for kind, channel, user, connection in pending:
            script = self._join if kind == JOIN else self._leave
            args = ([member(user, connection), user, self._lifetime_ms, channel] if kind == JOIN
                    else [member(user, connection), user, channel])
            if await script(keys=self._keys.presence_keys(channel), args=args) and self._on_change:
                await self._on_change(kind, channel, user)
        rewritten = 0
        for channel, connections in list(self._mine.items()):
            for connection, user in list(connections.items()):
                await self._join(keys=self._keys.presence_keys(channel),
                                 args=[member(user, connection), user, self._lifetime_ms, channel])
                rewritten += 1
        self._prune_after = asyncio.get_running_loop().time() + self._ttl
        log.warning("presence resynchronised with redis: %d replayed, %d entries rewritten", len(pending), rewritten)

    # --- background tasks --------------------------------------------------------

    async def _refresh_forever(self) -> None:
        async def refresh() -> None:
            if self._down:
                await self._redis.ping()
                await self.resync()
            else:
                await self._refresh_mine()

        await self._every(lambda: min(1.0, self._ttl / 4) if self._down else self._ttl / 4, refresh, "refresh")

    async def _refresh_mine(self) -> None:
        for channel, connections in list(self._mine.items()):
            items = list(connections.items())
            for i in range(0, len(items), REFRESH_BATCH):
                chunk = items[i:i + REFRESH_BATCH]
                missing = await self._refresh(keys=[self._keys.conns(channel)],
                                              args=[self._lifetime_ms, *(member(u, c) for c, u in chunk)])
                for raw in missing:  # lost (Redis restarted without data): write it again
                    user, _, connection = (raw.decode() if isinstance(raw, bytes) else raw).partition("\n")
                    if connections.get(connection) == user:
                        await self._join(keys=self._keys.presence_keys(channel),
                                         args=[raw, user, self._lifetime_ms, channel])

    async def _prune_forever(self) -> None:
        loop = asyncio.get_running_loop()

        async def prune() -> None:
            if not self._down and loop.time() >= self._prune_after:
                await self._prune_all()

        await self._every(lambda: max(self._ttl / 8, 0.1), prune, "pruning")

    async def _every(self, interval: Callable[[], float], action: Callable[[], Awaitable[None]], what: str) -> None:
        """Run `action` forever, `interval()` seconds apart; an outage is noted, never fatal."""
        while True:
            await asyncio.sleep(interval())
            try:
                await action()
            except (RedisError, OSError) as exc:
                self._outage(exc)
            except Exception:
                log.exception("presence %s failed", what)

    async def _prune_all(self) -> None:
        cursor: Any = 0
        while True:
            cursor, channels = await self._redis.sscan(self._keys.channels, cursor, count=500)
            for raw in channels:
                channel = raw.decode() if isinstance(raw, bytes) else raw
                left = await self._prune(keys=self._keys.presence_keys(channel), args=[channel])
                for user in left:
                    name = user.decode() if isinstance(user, bytes) else user
                    log.info("presence expired user=%s channel=%s (its node stopped refreshing)", name, channel)
                    if self._on_change is not None:
                        await self._on_change(LEAVE, channel, name)
            if not cursor:
                break
