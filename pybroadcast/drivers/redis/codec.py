"""Events on the wire of Redis Pub/Sub (and in history streams): one compact JSON array per event.

A publisher encodes the six fields it gives (``events.PUBLISHED``); when history
is on, the publish script appends the offset and epoch it assigned
(``keys.PUBLISH``), so a recorded message has eight: ``[…, 42, "epoch"]``.
"""

from __future__ import annotations

import json

from ... import compact_json
from ...events import KINDS, PUBLISHED, Event


def encode(event: Event) -> bytes:
    return compact_json.dumps(event[:PUBLISHED]).encode()


def decode(raw: bytes | str) -> Event:
    """Raise ValueError for anything that is not a well-formed event."""
    try:
        fields = json.loads(raw)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"malformed event: {exc}") from None
    if not isinstance(fields, list) or len(fields) not in (3, 4, 5, 6, 8):
        raise ValueError(f"malformed event: {str(fields)[:80]}")
    # Fewer than six fields: published by a node from before event names (a rolling upgrade).
    given = fields[:PUBLISHED]
    if not all(isinstance(field, str) for field in given) or given[0] not in KINDS:
        raise ValueError(f"malformed event: {str(fields)[:80]}")
    if len(fields) == 8:
        offset, epoch = fields[-2], fields[-1]
        if isinstance(offset, bool) or not isinstance(offset, int) or offset <= 0 or not isinstance(epoch, str):
            raise ValueError(f"malformed position in event: {str(fields)[:80]}")
        return Event(*given).at(offset, epoch)
    return Event(*given)
