"""The hub's WebSocket connection: websockets' ServerConnection with two guards.

* **Nothing before the handshake is decided.** websockets' Sans-I/O parser
  reads frames as soon as the request ends, so a client that sends frames
  right after its request got pongs *before* the HTTP response, and a close
  frame there swallowed the 401/403. Bytes after the request head are held
  (bounded) until the response is out, then fed in, or dropped on rejection.
* **Inbound frame rate.** Every frame counts (pings and pongs included, which
  websockets answers by itself): a token bucket of ``rate`` frames per second
  holding up to ``2 * rate``. A connection over it is closed with 1008.
"""

from __future__ import annotations

import logging
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode
from websockets.protocol import State

CLOSE_RATE_LIMITED = CloseCode.POLICY_VIOLATION  # 1008
HOLD_LIMIT = 1 << 20  # bytes a client may send before it has our answer to its request
BURST_SECONDS = 2.0

log = logging.getLogger("pybroadcast")


class HubConnection(ServerConnection):
    frame_rate: float = 100.0  # set per server by `configured()`

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_tail = b""  # the last bytes of an unfinished request head
        self._held: bytearray | None = None  # set once the request head is complete
        self._tokens = self.frame_rate * BURST_SECONDS
        self._refilled = 0.0
        self._over_limit = False

    @classmethod
    def configured(cls, frame_rate: float) -> type[HubConnection]:
        return type("HubConnection", (cls,), {"frame_rate": float(frame_rate)})

    # --- holding early bytes -----------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._held is not None:
            if self.protocol.state is State.CONNECTING:
                self._held += data
                if len(self._held) > HOLD_LIMIT:
                    self.transport.abort()
                return
            self._release()
        elif self.protocol.state is State.CONNECTING:
            head = self._head_tail + data
            end = head.find(b"\r\n\r\n")
            if end >= 0:
                cut = end + 4 - len(self._head_tail)
                self._held = bytearray(data[cut:])
                data = data[:cut]
            else:
                self._head_tail = head[-3:]
        self._refill()
        super().data_received(data)

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        await super().handshake(*args, **kwargs)
        self._release()

    def _release(self) -> None:
        held, self._held = self._held, None
        if held and self.protocol.state is State.OPEN:
            self._refill()
            super().data_received(bytes(held))

    # --- frame rate ------------------------------------------------------------------

    def _refill(self) -> None:
        now = self.loop.time()
        if self._refilled:
            capacity = self.frame_rate * BURST_SECONDS
            self._tokens = min(capacity, self._tokens + (now - self._refilled) * self.frame_rate)
        self._refilled = now

    def process_event(self, event: Any) -> None:
        if self._over_limit:
            return  # the rest of a flood that already closed this connection
        if self.request is not None:  # a frame (the first event is the request)
            self._tokens -= 1.0
            if self._tokens < 0:
                self._over_limit = True
                log.warning("closing a connection from %s with 1008: over %g frames/s",
                            self.remote_address[0] if self.remote_address else "?", self.frame_rate)
                self.protocol.fail(CLOSE_RATE_LIMITED, "frame rate limit exceeded")
                self.send_data()
                return
        super().process_event(event)
