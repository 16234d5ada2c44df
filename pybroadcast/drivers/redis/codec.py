"""Events on the wire of Redis Pub/Sub: one compact JSON array per event."""

from __future__ import annotations

import json

from ...events import KINDS, Event


def encode(event: Event) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def decode(raw: bytes | str) -> Event:
    """Raise ValueError for anything that is not a well-formed event."""
    try:
        fields = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"malformed event: {exc}") from None
    if not isinstance(fields, list) or len(fields) != 3:
        raise ValueError(f"malformed event: {str(fields)[:80]}")
    kind, target, data = fields
    if kind not in KINDS or not isinstance(target, str) or not isinstance(data, str):
        raise ValueError(f"malformed event: {str(fields)[:80]}")
    return Event(kind, target, data)
