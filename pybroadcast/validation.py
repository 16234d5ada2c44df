"""Argument checks shared by app processes and the hub (one source of truth)."""

from __future__ import annotations

# A character test instead of a regular expression: app processes then need no
# `re` (~9 ms to import; the `string` module imports it too).
CHANNEL_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-=@,.;:"
MAX_CHANNEL = 200
MAX_USER_ID = 200
MAX_EVENT_NAME = 200
MAX_HISTORY_LIMIT = 10000  # messages one getChannelHistory() call may ask for

PRIVATE_PREFIXES = ("private-", "presence-")


def is_valid_channel(channel: str) -> bool:
    return 0 < len(channel) <= MAX_CHANNEL and not channel.strip(CHANNEL_CHARACTERS)


def needs_authorization(channel: str) -> bool:
    return channel.startswith(PRIVATE_PREFIXES)


def is_presence_channel(channel: str) -> bool:
    return channel.startswith("presence-")


def text(value: bytes | str, what: str) -> str:
    """Decode PHP bytes strictly: a WebSocket text frame must carry valid UTF-8."""
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{what} is not valid UTF-8") from None


def channel(value: bytes | str) -> str:
    name = text(value, "channel")
    if not is_valid_channel(name):
        raise ValueError(
            f"invalid channel {name[:60]!r}: use 1-200 characters of A-Z a-z 0-9 _ - = @ , . ; :"
        )
    return name


def message(value: bytes | str, max_size: int) -> str:
    if isinstance(value, str):
        try:
            size = len(value.encode())
        except UnicodeEncodeError:  # a lone surrogate, e.g. from "\ud800" in JSON
            raise ValueError("message is not valid UTF-8 (a lone surrogate)") from None
    else:
        size = len(value)
    if size > max_size:
        raise ValueError(f"message is {size} bytes, over max_message_size ({max_size})")
    return text(value, "message")


def event_name(value: bytes | str | None) -> str:
    """An application event name (Pusher clients bind to it); "" when none was given."""
    if value is None:
        return ""
    name = text(value, "event name")
    if not name or len(name.encode()) > MAX_EVENT_NAME or not name.isprintable():
        raise ValueError(f"invalid event name {name[:60]!r}: use 1-{MAX_EVENT_NAME} printable characters, or null")
    return name


def user_id(value: bytes | str | int) -> str:
    """An int and its decimal string are the same user."""
    if isinstance(value, bool):
        raise ValueError("user id must be an int or a string")
    if isinstance(value, int):
        return str(value)
    uid = text(value, "user id")
    if not uid or len(uid.encode()) > MAX_USER_ID or not uid.isprintable():
        raise ValueError(f"invalid user id {uid[:60]!r}: use 1-{MAX_USER_ID} printable characters")
    return uid


def history_limit(value: int | str) -> int:
    """How many messages getChannelHistory() asks for: 0 to MAX_HISTORY_LIMIT."""
    if isinstance(value, str):
        if not value.isdigit() or len(value) > 6:
            raise ValueError(f"invalid history limit {value[:20]!r}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_HISTORY_LIMIT:
        raise ValueError(f"limit must be 0 to {MAX_HISTORY_LIMIT}, got {value!r}")
    return value
