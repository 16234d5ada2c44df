"""Compact JSON with UTF-8 left as is: the form of the JSON the hub writes itself (clients' frames,
events on Redis, a presence member's ``user_info`` from PHP).

One encoder, built once: ``json.dumps()`` with options builds a new ``JSONEncoder`` on every
call, which was a third of the cost of encoding a message's frame.
"""

from __future__ import annotations

import json

dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
