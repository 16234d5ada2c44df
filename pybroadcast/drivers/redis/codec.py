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
    # Fewer fields: published by a node from before event names (a rolling upgrade).
    if not isinstance(fields, list) or not 3 <= len(fields) <= 6:
        raise ValueError(f"malformed event: {str(fields)[:80]}")
    if not all(isinstance(field, str) for field in fields) or fields[0] not in KINDS:
        raise ValueError(f"malformed event: {str(fields)[:80]}")
    return Event(*fields)
