"""The Redis key layout and Lua scripts, shared by hubs and app processes.

With prefix ``P`` (setting ``redis_prefix``):

* ``P:ch:<channel>`` — Pub/Sub topic of a channel: messages and join/leave events.
* ``P:users`` — Pub/Sub topic of ``direct`` and ``disconnect`` events (every node
  subscribes; each keeps what concerns its own connections).
* ``P:presence:<channel>:conns`` — sorted set of ``<user>\\n<connection>``, scored
  by expiry (ms, Redis clock). Nodes refresh their own entries; a dead node's expire.
* ``P:presence:<channel>:users`` — hash user -> number of live connections.
* ``P:presence:<channel>:info`` — hash user -> their ``user_info`` (JSON), while present.
* ``P:presence:channels`` — set of channels that have presence entries.
* ``P:presence:epoch`` — a random token set once; when it changes, Redis lost its data.
* ``P:history:<channel>:position`` — hash: ``epoch`` (random, made by the channel's
  first message) and ``top`` (its newest offset). Expires ``position_ttl`` after the
  last publish; the next publish then starts a new epoch (and an empty stream).
* ``P:history-generation`` — a random token set by the first publish of a data set:
  a position taken before a channel's first message is valid only while it is unchanged.
* ``P:history:<channel>:stream`` — Redis Stream of the newest ``history_size``
  messages, entry id ``<offset>-0``, field ``e``: the event as published (with its
  offset and epoch). Expires ``history_ttl`` after the last publish.

Every transition runs in one Lua script, so it is atomic across nodes. Scripts
that write start with a ``#!lua`` shebang (Redis 7 or later): Redis then refuses
them whole when it is out of memory, where a legacy script would run, or stop
halfway; the read-only script is flagged ``no-writes``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ...errors import BroadcastError, Unreachable
from ...events import USER_KINDS, Event

SEPARATOR = "\n"  # user ids are printable, so a newline cannot occur inside one

_WRITES = "#!lua\n"
_READS = "#!lua flags=no-writes\n"
_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "

# KEYS: conns, users, channels, info. ARGV: member, user, lifetime ms, channel, user_info ("" = none).
# Returns 1 on a join transition. The latest user_info given wins.
JOIN = _WRITES + _NOW + """
if redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[3], ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[4], ARGV[2], ARGV[5]) end
if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) == 1 then return 1 end
return 0
"""

# Shared by LEAVE and PRUNE: one connection of `user` is gone from KEYS[1]; true
# when that was the user's last one. Then drop the channel's keys once empty.
_DROP = """
local function drop(user)
  if redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then
    redis.call('HDEL', KEYS[2], user)
    redis.call('HDEL', KEYS[4], user)
    return true
  end
  return false
end
local function tidy(channel)
  if redis.call('ZCARD', KEYS[1]) == 0 then
    redis.call('DEL', KEYS[2], KEYS[4])
    redis.call('SREM', KEYS[3], channel)
  end
end
"""

# KEYS: conns, users, channels, info. ARGV: member, user, channel. Returns 1 on a leave transition.
LEAVE = _WRITES + _DROP + """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local left = drop(ARGV[2]) and 1 or 0
tidy(ARGV[3])
return left
"""

# KEYS: conns. ARGV: lifetime ms, members... Extends live entries; returns the members that were missing.
REFRESH = _WRITES + _NOW + """
local missing = {}
for i = 2, #ARGV do
  if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i]) == 0
     and not redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    table.insert(missing, ARGV[i])
  end
end
return missing
"""

# KEYS: conns, users, channels, info. ARGV: channel. Removes expired entries; returns the users who left.
PRUNE = _WRITES + _NOW + _DROP + """
local left = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  redis.call('ZREM', KEYS[1], member)
  local user = string.sub(member, 1, string.find(member, '\\n', 1, true) - 1)
  if drop(user) then table.insert(left, user) end
end
tidy(ARGV[1])
return left
"""

# KEYS: conns [, info]. The users with at least one live connection, each once (reads only);
# given the info key, each followed by their user_info ("" = none): user, info, user, info ...
MEMBERS = _READS + _NOW + """
local seen, found = {}, {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  local user = string.sub(member, 1, string.find(member, '\\n', 1, true) - 1)
  if not seen[user] then
    seen[user] = true
    table.insert(found, user)
    if KEYS[2] then table.insert(found, redis.call('HGET', KEYS[2], user) or '') end
  end
end
return found
"""

# KEYS: position, stream, generation. ARGV: topic, event (JSON array of the published fields),
# history_size, history_ttl ms, position ttl ms, a new random epoch. Gives the message the next
# offset, records it and publishes it with [..., offset, epoch] appended, in one step; returns the
# offset. A channel without a position starts a new epoch (and drops a stream left from the old
# one, e.g. when the position alone was evicted); a data set without a generation gets one.
PUBLISH = _WRITES + """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  redis.call('SET', KEYS[3], ARGV[6], 'NX')
  epoch = ARGV[6]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', 0)
end
local offset = redis.call('HINCRBY', KEYS[1], 'top', 1)
local event = string.sub(ARGV[2], 1, -2) .. ',' .. offset .. ',"' .. epoch .. '"]'
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], offset .. '-0', 'e', event)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[1], event)
return offset
"""

# KEYS: position, stream, generation. ARGV: after ("" = the newest), limit.
# Returns {epoch, top, now, event...}: the events after offset `after` (the oldest `limit`), or
# the newest `limit`, oldest first; `now` is the placeholder position "~<generation>:<ms>"
# (history.placeholder), which is also the epoch of a channel without a position. Writes
# nothing (clients can make the hub read any channel name).
READ_HISTORY = _READS + _NOW + """
local current = '~' .. (redis.call('GET', KEYS[3]) or '') .. ':' .. string.format('%d', now)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then return {current, '0', current} end
local found = {epoch, redis.call('HGET', KEYS[1], 'top'), current}
local limit = tonumber(ARGV[2])
if limit > 0 then
  local entries
  if ARGV[1] == '' then
    entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', limit)
    for i = #entries, 1, -1 do table.insert(found, entries[i][2][2]) end
  else
    entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[1] .. '-0', '+', 'COUNT', limit)
    for _, entry in ipairs(entries) do table.insert(found, entry[2][2]) end
  end
end
return found
"""

# KEYS: epoch. ARGV: a new random token. Sets it if missing; returns the current one.
EPOCH = _WRITES + """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
"""


class KeySpace:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.users_topic = f"{prefix}:users"
        self.channels = f"{prefix}:presence:channels"
        self.epoch = f"{prefix}:presence:epoch"
        self.generation = f"{prefix}:history-generation"  # (not under history:, where channel names go)
        self._topic = f"{prefix}:ch:"

    def topic(self, channel: str) -> str:
        return self._topic + channel

    def topic_for(self, event: Event) -> str:
        """Where an event is published: its channel's topic, or the users topic."""
        return self.users_topic if event.kind in USER_KINDS else self._topic + event.target

    def conns(self, channel: str) -> str:
        return f"{self.prefix}:presence:{channel}:conns"

    def users(self, channel: str) -> str:
        return f"{self.prefix}:presence:{channel}:users"

    def info(self, channel: str) -> str:
        return f"{self.prefix}:presence:{channel}:info"

    def presence_keys(self, channel: str) -> list[str]:
        return [self.conns(channel), self.users(channel), self.channels, self.info(channel)]

    def history_keys(self, channel: str) -> list[str]:
        """[position, stream, generation] of a channel (KEYS of PUBLISH and READ_HISTORY)."""
        return [f"{self.prefix}:history:{channel}:position", f"{self.prefix}:history:{channel}:stream",
                self.generation]


def member(user: str, connection: str) -> str:
    return f"{user}{SEPARATOR}{connection}"


def unreachable(url: str, exc: BaseException) -> Unreachable:
    """The error for a Redis that cannot be reached; `url` already redacted."""
    return Unreachable(f"redis at {url} unreachable: {exc}")


def invalid_url(url: str, exc: BaseException) -> BroadcastError:
    """redis-py checks URL options only when it connects, so a bad URL shows up there."""
    return BroadcastError(f"invalid redis_url {url}: {exc}")


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


# Fail fast: a request never hangs, and one immediate retry replaces a pooled
# connection that went stale (e.g. across a Redis restart).
CONNECT_TIMEOUT = 0.5
COMMAND_TIMEOUT = 1.0
RETRIES = 1


def retry_policy(retry_class: Any, backoff: Any) -> Any:
    """Retry on a broken connection only: a command that timed out may have run,
    and sending it again would publish it twice."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    return retry_class(backoff, RETRIES, supported_errors=(RedisConnectionError,))


def is_connect_timeout(exc: BaseException) -> bool:
    """redis-py raises the same TimeoutError for connecting and for awaiting a reply."""
    return str(exc).startswith("Timeout connecting")
