"""``broadcast()`` and friends called inside the hub process (from its PHP callbacks)."""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine

from .drivers.history import Page
from .drivers.route import AppRoute
from .errors import Unconfirmed, Unreachable
from .events import Event

CALL_TIMEOUT = 1.0


class InHubRoute(AppRoute):
    """Straight onto the hub's loop; contract in :class:`pybroadcast.drivers.route.AppRoute`.

    Called from the PHP thread (or any other but the loop's own).
    """

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime

    def publish(self, event: Event) -> None:
        self._call(self._hub().publish(event))

    def members(self, channel: str) -> list[str]:
        return self._call(self._hub().members(channel))

    def history(self, channel: str, limit: int) -> Page | None:
        return self._call(self._hub().history_page(channel, limit))

    def _hub(self) -> Any:
        hub = self._runtime.hub
        if hub is None or self._runtime.finished:
            raise Unreachable("the hub in this process is not running")
        return hub

    def _call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._runtime.loop)
        try:
            return future.result(CALL_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise Unconfirmed(f"the hub in this process did not confirm within {CALL_TIMEOUT:.0f} s;"
                              " it may still be delivered") from None
