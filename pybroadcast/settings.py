"""Settings: ``Server`` options > environment variable > php.ini > default.

The extension passes the ``pybroadcast.*`` php.ini values as a dict (an empty
string means "not set") because php-fpm clears the environment of its workers.

App processes import this on their first call: it avoids dataclasses, tempfile
and typing, which cost ~20 ms to import (measured), for plain classes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .drivers import NAMES as DRIVER_NAMES
from .drivers.memory import socket_trust
from .redaction import redact_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def _text(name: str, value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "strict")
    if isinstance(value, (list, tuple)):  # allowed_origins given as a PHP array
        value = " ".join(_text(name, v) for v in value)
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"option {name!r} must be a string")
    return str(value).strip()


def _positive(kind: type) -> Callable[[str, Any], Any]:
    def parse(name: str, value: Any) -> Any:
        text = _text(name, value)
        try:
            number = kind(text)
        except ValueError:
            number = 0
        if number <= 0:
            raise ValueError(f"option {name!r} must be a positive number, got {text!r}")
        return number

    return parse


def _count(name: str, value: Any) -> int:
    text = _text(name, value)
    if not text.isdigit():  # ASCII digits only: no sign, no space
        raise ValueError(f"option {name!r} must be a whole number, 0 or more, got {text!r}")
    return int(text)


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def parse(name: str, value: Any) -> str:
        text = _text(name, value).lower()
        if text not in allowed:
            raise ValueError(f"option {name!r} must be one of {', '.join(allowed)}, got {text!r}")
        return text

    return parse


def _listen(name: str, value: Any) -> tuple[str, int]:
    text = _text(name, value)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"option {name!r} must look like ':8080' or '127.0.0.1:8080', got {text!r}")
    return host.strip("[]"), int(port)


def _origins(name: str, value: Any) -> tuple[str, ...]:
    return tuple(_text(name, value).split())


def _owner(name: str, value: Any) -> int | None:
    return socket_trust.owner_uid(_text(name, value))


def _redis_url(name: str, value: Any) -> str:
    text = _text(name, value)
    if not text.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"option {name!r} must be a redis://, rediss:// or unix:// URL, got {redact_url(text)!r}")
    return text


class Option:
    """One setting. ``kind`` is how the extension checks its php.ini value at once
    (``int``/``number``: positive; ``count``: a whole number >= 0; ``text``: anything,
    checked here); ``roles``
    says who reads it: ``hub`` (Server::run()) and/or ``app`` (broadcast() and friends)."""

    __slots__ = ("name", "env", "default", "parse", "kind", "roles")

    def __init__(self, name: str, env: str | None, default: str, parse: Callable[[str, Any], Any],
                 kind: str = "text", roles: tuple[str, ...] = ("hub",)) -> None:
        self.name, self.env, self.default, self.parse, self.kind, self.roles = name, env, default, parse, kind, roles


BOTH = ("hub", "app")

# The one list of settings. The extension registers a php.ini entry
# pybroadcast.<name> for each (ext/pybroadcast.c; tests/test_seam.py checks that
# they match) and hands whatever is set to resolve() below.
OPTIONS: tuple[Option, ...] = (
    Option("listen", "SERVER_ADDRESS", ":8080", _listen),
    Option("allowed_origins", "ALLOWED_ORIGINS", "http://localhost:8080", _origins),
    Option("driver", "PYBROADCAST_DRIVER", "memory", _choice(*DRIVER_NAMES), roles=BOTH),
    Option("redis_url", "PYBROADCAST_REDIS_URL", "redis://127.0.0.1:6379/0", _redis_url, roles=BOTH),
    Option("redis_prefix", "PYBROADCAST_REDIS_PREFIX", "pybroadcast", _text, roles=BOTH),
    Option("socket", "PYBROADCAST_SOCKET", "", _text, roles=BOTH),
    Option("socket_owner", "PYBROADCAST_SOCKET_OWNER", "", _owner, roles=("app",)),
    Option("auth_url", "PYBROADCAST_AUTH_URL", "", _text),
    Option("max_message_size", None, "65536", _positive(int), "int", BOTH),
    Option("presence_ttl", None, "30", _positive(float), "number"),
    Option("callback_timeout", None, "5", _positive(float), "number"),
    Option("ping_interval", None, "20", _positive(float), "number"),
    Option("max_channels", None, "128", _positive(int), "int"),
    Option("max_frame_rate", None, "100", _positive(float), "number"),
    Option("pusher_app_id", "PUSHER_APP_ID", "", _text),
    Option("pusher_key", "PUSHER_APP_KEY", "", _text),
    Option("pusher_secret", "PUSHER_APP_SECRET", "", _text),
    Option("client_events", "PYBROADCAST_CLIENT_EVENTS", "off", _choice("off", "members")),
    Option("reuse_port", "PYBROADCAST_REUSE_PORT", "off", _choice("off", "on")),
    Option("history_size", "PYBROADCAST_HISTORY_SIZE", "100", _count, "count", BOTH),
    Option("history_ttl", "PYBROADCAST_HISTORY_TTL", "300", _positive(float), "number", BOTH),
)
_BY_NAME = {option.name: option for option in OPTIONS}


class Settings:
    """The effective settings: one attribute per option (see OPTIONS)."""

    __slots__ = tuple(option.name for option in OPTIONS)

    listen: tuple[str, int]
    allowed_origins: tuple[str, ...]
    driver: str
    redis_url: str
    redis_prefix: str
    socket: str
    socket_owner: int | None  # uid
    auth_url: str
    max_message_size: int
    presence_ttl: float
    callback_timeout: float
    ping_interval: float
    max_channels: int  # per connection
    max_frame_rate: float  # inbound frames per second per connection
    pusher_app_id: str
    pusher_key: str  # empty: no Pusher endpoint
    pusher_secret: str  # never logged, never in an error message
    client_events: str  # off | members
    reuse_port: str  # on: several hubs share `listen` (SO_REUSEPORT); Redis driver only
    history_size: int  # messages kept per channel; 0: no history, no offsets
    history_ttl: float  # seconds a channel's messages are kept after its last publish

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)

    @property
    def socket_path(self) -> str:
        return self.socket or socket_trust.default_path()


def _key(name: Any) -> str:
    return name.decode() if isinstance(name, bytes) else str(name)


def resolve(
    options: Any = None,
    ini: Mapping[Any, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the effective settings; an unknown option or a bad value raises ValueError."""
    if not options:
        options = {}  # an empty PHP array arrives as an empty list
    if not isinstance(options, Mapping):
        raise ValueError("options must be an array of name => value")
    given = {_key(k): v for k, v in options.items()}
    unknown = sorted(set(given) - set(_BY_NAME))
    if unknown:
        raise ValueError(
            f"unknown option {unknown[0]!r}; known options: {', '.join(_BY_NAME)}"
        )
    ini_values = {_key(k): v for k, v in (ini or {}).items()}
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw: Any = option.default
        ini_value = ini_values.get(option.name)
        if ini_value not in (None, "", b""):
            raw = ini_value
        if option.env and env.get(option.env):
            raw = env[option.env]
        if option.name in given:
            raw = given[option.name]
        values[option.name] = option.parse(option.name, raw)
    if values["reuse_port"] == "on" and values["driver"] != "redis":
        raise ValueError("option 'reuse_port' needs the redis driver: hubs that share a port must share"
                         " their broker and presence")
    return Settings(**values)
