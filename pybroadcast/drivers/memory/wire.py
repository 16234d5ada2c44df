"""Messages on the hub's command socket: netstrings of netstrings.

A message is ``<n>:<fields>,`` where the fields are themselves netstrings
(``<n>:<bytes>,``), so any bytes travel unescaped and app processes need no
JSON (and no `re`, which json imports) to talk to the hub.

Requests: ``publish kind target data name exclude user`` -> ``ok`` (the last
three may be absent: an app process from before them); ``members channel`` -> ``ok user...``;
``history channel limit`` -> ``ok epoch top (offset name data)...`` (oldest first), or
just ``ok`` when history is off. Failure: ``error message``.

The parser is strict and bounded: a length is 1-20 ASCII digits (``int()``
alone would take ``-5``, `` 5`` or ``5_0``), never exceeds what can follow, and
every step consumes at least three bytes, so any input ends in time linear in
its size, with no allocation beyond it.
"""

from __future__ import annotations

PUBLISH = "publish"
MEMBERS = "members"
HISTORY = "history"
OK = "ok"
ERROR = "error"

MAX_DIGITS = 20


class MalformedMessage(ValueError):
    """Bytes that are not a well-formed message: the peer is dropped, not answered."""


def _netstring(field: str | bytes) -> bytes:
    data = field.encode() if isinstance(field, str) else field
    return b"%d:%s," % (len(data), data)


def pack(*fields: str | bytes) -> bytes:
    return _netstring(b"".join(_netstring(f) for f in fields))


def _length(data: bytes, start: int, most: int) -> tuple[int, int] | None:
    """(declared length, index of its colon) at `start`; None if the digits may still be arriving."""
    colon = data.find(b":", start, start + MAX_DIGITS + 1)
    if colon < 0:
        if len(data) - start > MAX_DIGITS:
            raise MalformedMessage("netstring length is not 1-20 digits followed by ':'")
        if not data[start:].isdigit() and data[start:]:
            raise MalformedMessage("netstring length is not a decimal number")
        return None
    digits = data[start:colon]
    if not digits.isdigit():  # bytes.isdigit() is ASCII-only: no sign, space or underscore
        raise MalformedMessage("netstring length is not a decimal number")
    length = int(digits)
    if length > most:
        raise MalformedMessage(f"netstring of {length} bytes, over the limit of {most}")
    return length, colon


def unpack(body: bytes) -> list[str]:
    """The fields of a message body (without its outer length); MalformedMessage if malformed."""
    fields, pos, size = [], 0, len(body)
    while pos < size:
        found = _length(body, pos, size - pos)
        if found is None:
            raise MalformedMessage("truncated netstring field")
        length, colon = found
        end = colon + 1 + length
        if body[end:end + 1] != b",":
            raise MalformedMessage("netstring field not terminated by ','")
        try:
            fields.append(body[colon + 1:end].decode())
        except UnicodeDecodeError:
            raise MalformedMessage("field is not valid UTF-8") from None
        pos = end + 1
    return fields


def split(buffer: bytes, limit: int) -> tuple[bytes | None, bytes]:
    """(one complete message body, the rest), or (None, buffer) if more must arrive.

    A message that declares more than `limit` bytes is malformed at once, before
    its body is buffered.
    """
    found = _length(buffer, 0, limit)
    if found is None:
        return None, buffer
    length, colon = found
    end = colon + 1 + length
    if len(buffer) <= end:
        return None, buffer
    if buffer[end:end + 1] != b",":
        raise MalformedMessage("message not terminated by ','")
    return buffer[colon + 1:end], buffer[end + 1:]


def size_limit(max_message_size: int) -> int:
    """The longest message body a valid request can make."""
    return max_message_size + 1024
