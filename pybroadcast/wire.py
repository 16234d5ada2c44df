"""Requests on the hub's command socket: one JSON object per line each way.

Used by :mod:`pybroadcast.client` (blocking, app processes) and
:mod:`pybroadcast.command_server` (asyncio, the hub). Kept free of asyncio so
app processes stay light.
"""

from __future__ import annotations

import json
from typing import Any

PUBLISH = "publish"  # {"op": "publish", "event": [kind, target, data]} -> null
MEMBERS = "members"  # {"op": "members", "channel": name} -> [user, ...]


def request(op: str, **fields: Any) -> bytes:
    return json.dumps({"op": op, **fields}, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def reply(result: Any = None, error: str | None = None) -> bytes:
    body = {"ok": False, "error": error} if error is not None else {"ok": True, "result": result}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def line_limit(max_message_size: int) -> int:
    """The longest request line a valid message can make (JSON may escape 1 byte as 6)."""
    return 6 * max_message_size + 4096
