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

Every transition runs in one Lua script (``lua/*.lua``), so it is atomic across nodes. Scripts
that write start with a ``#!lua`` shebang (Redis 7 or later): Redis then refuses
them whole when it is out of memory, where a legacy script would run, or stop
halfway; the read-only script is flagged ``no-writes``.
"""

from __future__ import annotations

import os
from typing import Any

from ...errors import BroadcastError, Unreachable
from ...events import USER_KINDS, Event

SEPARATOR = "\n"  # user ids are printable, so a newline cannot occur inside one

_SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lua")


def _read(name: str) -> str:
    with open(os.path.join(_SCRIPTS, name + ".lua"), encoding="utf-8") as file:
        return file.read()


def _script(name: str, *fragments: str) -> str:
    """A script's text, byte for byte what Redis runs: its file, with `fragments` (files of shared
    functions) after its first line, the shebang. The C app route (ext/redis_route.c) embeds the
    files of the scripts it runs at build time, which have no fragments: both send the same SHA1."""
    shebang, _, body = _read(name).partition("\n")
    return "\n".join([shebang, *(_read(fragment) for fragment in fragments), body])


# What each one takes and returns is written at the top of its file (lua/<name>.lua).
JOIN = _script("join")
LEAVE = _script("leave", "presence_drop")
REFRESH = _script("refresh")
PRUNE = _script("prune", "presence_drop")
MEMBERS = _script("members")
PUBLISH = _script("publish")
READ_HISTORY = _script("read_history")
EPOCH = _script("epoch")


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
