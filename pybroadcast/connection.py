"""The hub's WebSocket connection: websockets' ServerConnection with two guards.

* **Nothing before the handshake is decided.** websockets' Sans-I/O parser
  reads frames as soon as the request ends, so a client that sends frames
  right after its request got pongs *before* the HTTP response, and a close
  frame there swallowed the 401/403. Bytes after the request head are held
  (bounded) until the response is out, then fed in, or dropped on rejection.
* **Inbound frame rate.** Every frame counts (pings and pongs included, which
  websockets answers by itself): a token bucket of ``rate`` frames per second
  holding up to ``2 * rate``. Frames are counted by walking their headers
  *before* websockets parses them (one 64 KiB read holds ~10,000 pings, and
  parsing them all cost the hub ~50 ms before a count could stop it), only the
  frames within the limit are fed in, and the connection is closed with 1008
  without reading the rest of the flood.
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
FLOODER_GRACE = 1.0  # seconds a closed flooder has to read its close frame

log = logging.getLogger("pybroadcast")


class HubConnection(ServerConnection):
    frame_rate: float = 100.0  # set per server by `configured()`

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_tail = b""  # the last bytes of an unfinished request head
        self._held: bytearray | None = None  # set once the request head is complete
        self._tokens = self.frame_rate * BURST_SECONDS
        self._refilled = 0.0
        self._frame_left = 0  # payload bytes of the current frame still to come
        self._frame_head = b""  # an incomplete frame header
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
            super().data_received(data)
            return
        self._feed(data)

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        await super().handshake(*args, **kwargs)
        self._release()

    def _release(self) -> None:
        held, self._held = self._held, None
        if held and self.protocol.state is State.OPEN:
            self._feed(bytes(held))

    # --- frame rate ------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        if self._over_limit:
            return  # the rest of a flood we no longer read
        if self.protocol.state is State.OPEN:
            self._refill()
            allowed = self._admit(data)
            if allowed < len(data):
                super().data_received(data[:allowed])
                self._close_flooder()
                return
        super().data_received(data)

    def _refill(self) -> None:
        now = self.loop.time()
        if self._refilled:
            capacity = self.frame_rate * BURST_SECONDS
            self._tokens = min(capacity, self._tokens + (now - self._refilled) * self.frame_rate)
        self._refilled = now

    def _admit(self, data: bytes) -> int:
        """How many bytes of `data` hold only frames within the rate (one token each)."""
        pos, size = 0, len(data)
        while pos < size:
            if self._frame_left:
                step = min(self._frame_left, size - pos)
                pos += step
                self._frame_left -= step
                continue
            if not self._frame_head:  # a frame starts here
                self._tokens -= 1.0
                if self._tokens < 0:
                    return pos
            head = self._frame_head + data[pos:pos + MAX_HEADER - len(self._frame_head)]
            length = _header_length(head)
            if length is None:  # the header continues in the next read
                pos += len(head) - len(self._frame_head)
                self._frame_head = head
                continue
            header_size, self._frame_left = length
            pos += header_size - len(self._frame_head)
            self._frame_head = b""
        return size

    def _close_flooder(self) -> None:
        self._over_limit = True
        log.warning("closing a connection from %s with 1008: over %g frames/s",
                    self.remote_address[0] if self.remote_address else "?", self.frame_rate)
        if self.protocol.state is State.OPEN:
            self.protocol.fail(CLOSE_RATE_LIMITED, "frame rate limit exceeded")  # close frame, then FIN
            self.send_data()
        # Stop reading: the flood waits in the kernel and TCP flow control stalls the
        # sender at no cost to us. Closing now would answer unread data with a reset,
        # which can destroy the close frame before the client reads it.
        self.transport.pause_reading()
        self.loop.call_later(FLOODER_GRACE, self.transport.abort)


MAX_HEADER = 14  # 2 + 8 (64-bit length) + 4 (mask)


def _header_length(head: bytes) -> tuple[int, int] | None:
    """(header size, payload length) of the frame header at the start of `head`; None if incomplete."""
    if len(head) < 2:
        return None
    second = head[1]
    length = second & 0x7F
    extra = 2 if length == 126 else 8 if length == 127 else 0
    size = 2 + extra + (4 if second & 0x80 else 0)
    if len(head) < size:
        return None
    if extra:
        length = int.from_bytes(head[2:2 + extra], "big")
    return size, length
