"""Messages on the hub's command socket: netstrings of netstrings.

A message is ``<n>:<fields>,`` where the fields are themselves netstrings
(``<n>:<bytes>,``), so any bytes travel unescaped and app processes need no
JSON (and no `re`, which json imports) to talk to the hub.

Requests: ``publish kind target data`` -> ``ok``; ``members channel`` ->
``ok user...``. Failure: ``error message``.
"""

from __future__ import annotations

PUBLISH = "publish"
MEMBERS = "members"
OK = "ok"
ERROR = "error"


def _netstring(field: str | bytes) -> bytes:
    data = field.encode() if isinstance(field, str) else field
    return b"%d:%s," % (len(data), data)


def pack(*fields: str | bytes) -> bytes:
    return _netstring(b"".join(_netstring(f) for f in fields))


def unpack(body: bytes) -> list[str]:
    """The fields of a message body (without its outer length); ValueError if malformed."""
    fields, pos = [], 0
    while pos < len(body):
        colon = body.index(b":", pos)  # ValueError when missing
        end = colon + 1 + int(body[pos:colon])
        if body[end:end + 1] != b",":
            raise ValueError("malformed netstring")
        fields.append(body[colon + 1:end].decode())
        pos = end + 1
    return fields


def split(buffer: bytes) -> tuple[bytes | None, bytes]:
    """(one complete message body, the rest), or (None, buffer) if more must arrive."""
    colon = buffer.find(b":", 0, 21)
    if colon < 0:
        if len(buffer) > 20:
            raise ValueError("malformed message length")
        return None, buffer
    end = colon + 1 + int(buffer[:colon])
    if len(buffer) <= end:
        return None, buffer
    if buffer[end:end + 1] != b",":
        raise ValueError("malformed message")
    return buffer[colon + 1:end], buffer[end + 1:]


def size_limit(max_message_size: int) -> int:
    """The longest message body a valid request can make."""
    return max_message_size + 1024
