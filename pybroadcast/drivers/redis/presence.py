"""Presence held in Redis for many nodes; contract in :class:`pybroadcast.drivers.presence.Presence`.

Each node owns the entries of its own connections and refreshes them every
``presence_ttl / 4``; an entry lives ``presence_ttl * 2/3`` past its last
refresh, so a node that dies (kill -9) has its entries expire and pruned by a
surviving node within ``presence_ttl``, and that node reports the leaves once.

Faults are handled by reconciling state, not by replaying a log. A node keeps
two maps of (channel, connection) -> user: ``_mine``, the connections it holds
now, and ``_confirmed``, the entries Redis has acknowledged. While Redis is
unreachable or refuses writes (``maxmemory`` with ``noeviction``, a read-only
replica) the node is *degraded*: joins and leaves only change ``_mine`` and
report no transition. To recover (:meth:`resync`), once its broker listens again:

1. Redis kept its data (the epoch key is unchanged): confirmed entries that
   have gone missing were pruned by another node, which reported their leave,
   so they stop being confirmed.
2. Redis lost its data (the epoch key changed): the confirmed entries are
   written back *silently* (their joins were reported before), then the node
   waits ``RESTORE_GRACE`` so every live node has restored before anyone
   decides who left.
3. Reconcile: join what is in ``_mine`` but not confirmed, leave what is
   confirmed but no longer in ``_mine``, reporting each transition the scripts
   find. An error stops it with nothing lost; the next attempt goes on.

So ``onJoin``/``onLeave`` stay balanced per user and channel, and a user whose
node cannot write is never pruned while it cannot: write scripts carry a
``#!lua`` shebang, which makes Redis refuse them whole under OOM (a legacy
script ran its writes, or failed halfway), so the pruning nodes are degraded
too, and every node waits one ``presence_ttl`` after recovering before pruning.
Limit: a node that dies *while* Redis loses its data leaves its users'
``onJoin`` without an ``onLeave`` (two faults at once; nothing is left to prune).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from . import keys as redis_keys
from ...events import JOIN, LEAVE
from ...redaction import redact_url
from ..presence import ChangeCallback, Presence
from .keys import KeySpace, member

log = logging.getLogger("pybroadcast")

REFRESH_BATCH = 1000
RESTORE_GRACE_MAX = 5.0  # seconds; every live node retries Redis at least once a second

Entries = dict[str, dict[str, str]]  # channel -> connection -> user


class RedisPresence(Presence):
    def __init__(self, client: aioredis.Redis, keys: KeySpace, url: str, ttl: float) -> None:
        self._redis = client
        self._keys = keys
        self._url = redact_url(url)
        self._ttl = ttl
        self._lifetime_ms = int(ttl * 1000 * 2 / 3)
        self._join = client.register_script(redis_keys.JOIN)
        self._leave = client.register_script(redis_keys.LEAVE)
        self._refresh = client.register_script(redis_keys.REFRESH)
        self._prune = client.register_script(redis_keys.PRUNE)
        self._members = client.register_script(redis_keys.MEMBERS)
        self._epoch_script = client.register_script(redis_keys.EPOCH)
        self._mine: Entries = {}
        self._confirmed: Entries = {}
        self._info: Entries = {}  # channel -> connection -> user_info (JSON) given at its join
        self._epoch: bytes | None = None  # identifies Redis's data set; changes when it is lost
        self._on_change: ChangeCallback | None = None
        self.wait_listening: Callable[[], Awaitable[None]] | None = None  # the broker's: set by the driver
        self._tasks: list[asyncio.Task[None]] = []
        self._down: str | None = None  # why the node is degraded ("unreachable" / "refused"), or None
        self._prune_after = 0.0
        self._resync_lock = asyncio.Lock()

    async def start(self, on_change: ChangeCallback) -> None:
        self._on_change = on_change
        loop = asyncio.get_running_loop()
        self._prune_after = loop.time() + self._ttl
        try:
            self._epoch = await self._epoch_script(keys=[self._keys.epoch], args=[os.urandom(8).hex()])
        except (RedisError, OSError) as exc:
            self._degrade(exc)
        self._tasks = [asyncio.create_task(self._refresh_forever(), name="pybroadcast-presence-refresh"),
                       asyncio.create_task(self._prune_forever(), name="pybroadcast-presence-prune")]

    # The hub never runs join() and leave() of one connection concurrently.

    async def join(self, channel: str, user: str, connection: str, info: str = "") -> bool:
        self._mine.setdefault(channel, {})[connection] = user
        if info:
            self._info.setdefault(channel, {})[connection] = info
        if self._down:
            return False  # reconciled (and reported) once Redis takes writes again
        try:
            joined = await self._join(keys=self._keys.presence_keys(channel),
                                      args=self._join_args(channel, user, connection))
        except (RedisError, OSError) as exc:
            self._degrade(exc)
            return False
        self._confirmed.setdefault(channel, {})[connection] = user
        return bool(joined)

    async def leave(self, channel: str, user: str, connection: str) -> bool:
        if _get(self._mine, channel, connection) == user:
            _remove(self._mine, channel, connection)
            _remove(self._info, channel, connection)
        if self._down or _get(self._confirmed, channel, connection) != user:
            return False  # not in Redis (never was, or reconciled later)
        try:
            left = await self._leave(keys=self._keys.presence_keys(channel),
                                     args=[member(user, connection), user, channel])
        except (RedisError, OSError) as exc:
            self._degrade(exc)
            return False
        _remove(self._confirmed, channel, connection)
        return bool(left)

    async def members(self, channel: str) -> list[str]:
        try:
            users = await self._members(keys=[self._keys.conns(channel)])
        except (RedisError, OSError) as exc:
            raise redis_keys.unreachable(self._url, exc) from None
        return [u.decode() if isinstance(u, bytes) else u for u in users]

    async def members_info(self, channel: str) -> dict[str, str]:
        try:
            flat = await self._members(keys=[self._keys.conns(channel), self._keys.info(channel)])
        except (RedisError, OSError) as exc:
            raise redis_keys.unreachable(self._url, exc) from None
        text = [v.decode() if isinstance(v, bytes) else v for v in flat]
        return dict(zip(text[::2], text[1::2]))

    async def channels(self) -> list[str]:
        try:
            found = [raw async for raw in self._redis.sscan_iter(self._keys.channels, count=500)]
        except (RedisError, OSError) as exc:
            raise redis_keys.unreachable(self._url, exc) from None
        return [c.decode() if isinstance(c, bytes) else c for c in found]

    def _join_args(self, channel: str, user: str, connection: str) -> list[Any]:
        return [member(user, connection), user, self._lifetime_ms, channel, _get(self._info, channel, connection) or ""]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []

    # --- faults and recovery -----------------------------------------------------

    def _degrade(self, exc: BaseException) -> None:
        why = "refused" if isinstance(exc, ResponseError) else "unreachable"
        if self._down != why:
            if why == "refused":
                log.error("presence: redis at %s refused a write (%s: %s); joins and leaves wait, retrying",
                          self._url, type(exc).__name__, exc)
            else:
                log.error("presence: redis at %s unreachable (%s); joins and leaves wait, retrying", self._url, exc)
        self._down = why

    async def after_reconnect(self) -> None:
        """The broker lost Redis and found it again: its data may be gone; check."""
        self._down = self._down or "unreachable"
        await self.resync()

    async def resync(self) -> None:
        """Recover from a fault (see the module's docstring); a no-op when all is well.

        Both the refresh loop and the broker's reconnect ask for it; one run serves both.
        """
        async with self._resync_lock:
            if not self._down:
                return
            try:
                await self._resync()
            except (RedisError, OSError) as exc:
                self._degrade(exc)

    async def _resync(self) -> None:
        if self.wait_listening is not None:
            await self.wait_listening()  # so members on this node hear the transitions
        epoch = await self._epoch_script(keys=[self._keys.epoch], args=[os.urandom(8).hex()])
        lost = self._epoch is not None and epoch != self._epoch
        self._epoch = epoch
        if lost:
            restored = await self._restore()
            grace = min(self._ttl / 2, RESTORE_GRACE_MAX)
            log.warning("presence: redis lost its data; wrote back %d entries, replaying in %.1f s", restored, grace)
            await asyncio.sleep(grace)
        else:
            await self._forget_pruned()
        changes = await self._reconcile()
        self._down = None
        self._prune_after = asyncio.get_running_loop().time() + self._ttl
        log.warning("presence resynchronised with redis: %d replayed", changes)

    async def _restore(self) -> int:
        """Write back every confirmed entry, reporting nothing: their joins were reported."""
        count = 0
        for channel, connections in list(self._confirmed.items()):
            for connection, user in list(connections.items()):
                await self._join(keys=self._keys.presence_keys(channel), args=self._join_args(channel, user, connection))
                count += 1
        return count

    async def _forget_pruned(self) -> None:
        """Confirmed entries missing from Redis were pruned (their leave reported): unconfirm them."""
        for channel in list(self._confirmed):
            for user, connection in await self._refresh_channel(channel):
                if _get(self._confirmed, channel, connection) == user:
                    _remove(self._confirmed, channel, connection)

    async def _reconcile(self) -> int:
        """Bring Redis from ``_confirmed`` to ``_mine``, joins first, reporting every transition."""
        changes = 0
        while True:
            joins = _difference(self._mine, self._confirmed)
            leaves = _difference(self._confirmed, self._mine)
            if not joins and not leaves:
                return changes  # no await since the check: nothing new can be missed
            for channel, connection, user in joins:
                if _get(self._mine, channel, connection) != user:
                    continue  # left meanwhile
                joined = await self._join(keys=self._keys.presence_keys(channel),
                                          args=self._join_args(channel, user, connection))
                self._confirmed.setdefault(channel, {})[connection] = user
                changes += 1
                if joined:
                    await self._report(JOIN, channel, user)
            for channel, connection, user in leaves:
                if _get(self._mine, channel, connection) == user:
                    continue  # back meanwhile
                left = await self._leave(keys=self._keys.presence_keys(channel),
                                         args=[member(user, connection), user, channel])
                _remove(self._confirmed, channel, connection)
                changes += 1
                if left:
                    await self._report(LEAVE, channel, user)

    async def _report(self, kind: str, channel: str, user: str) -> None:
        if self._on_change is not None:
            await self._on_change(kind, channel, user)

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
        for channel in list(self._confirmed):
            if await self._refresh_channel(channel):
                # Lost (Redis restarted empty) or pruned (this node could not refresh
                # in time): the epoch tells which, and resync handles both.
                self._down = self._down or "missing"
                log.warning("presence: entries of this node are missing from redis; resynchronising")
                await self.resync()
                return

    async def _refresh_channel(self, channel: str) -> list[tuple[str, str]]:
        """Extend this node's confirmed entries in `channel`; (user, connection) of those missing."""
        missing: list[tuple[str, str]] = []
        items = list(self._confirmed.get(channel, {}).items())
        for i in range(0, len(items), REFRESH_BATCH):
            chunk = items[i:i + REFRESH_BATCH]
            for raw in await self._refresh(keys=[self._keys.conns(channel)],
                                           args=[self._lifetime_ms, *(member(u, c) for c, u in chunk)]):
                user, _, connection = (raw.decode() if isinstance(raw, bytes) else raw).partition("\n")
                missing.append((user, connection))
        return missing

    async def _prune_forever(self) -> None:
        loop = asyncio.get_running_loop()

        async def prune() -> None:
            if not self._down and loop.time() >= self._prune_after:
                await self._prune_all()

        await self._every(lambda: max(self._ttl / 8, 0.1), prune, "pruning")

    async def _every(self, interval: Callable[[], float], action: Callable[[], Awaitable[None]], what: str) -> None:
        """Run `action` forever, `interval()` seconds apart; a fault is noted, never fatal."""
        while True:
            await asyncio.sleep(interval())
            try:
                await action()
            except (RedisError, OSError) as exc:
                self._degrade(exc)
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
                    await self._report(LEAVE, channel, name)
            if not cursor:
                break


def _get(entries: Entries, channel: str, connection: str) -> str | None:
    connections = entries.get(channel)
    return connections.get(connection) if connections else None


def _remove(entries: Entries, channel: str, connection: str) -> None:
    connections = entries.get(channel)
    if connections is not None:
        connections.pop(connection, None)
        if not connections:
            del entries[channel]


def _difference(a: Entries, b: Entries) -> list[tuple[str, str, str]]:
    """(channel, connection, user) in `a` but not (as the same user) in `b`."""
    return [(channel, connection, user)
            for channel, connections in a.items()
            for connection, user in connections.items()
            if _get(b, channel, connection) != user]
