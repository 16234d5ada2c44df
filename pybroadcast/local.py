"""Which hub, if any, runs in this process (set by the runtime, read by the client).

Kept separate and import-free so app processes never load the hub's modules.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

current: Any = None  # a pybroadcast.runtime.Runtime while Server::run() is serving
