"""The hub's WebSocket connection: websockets' ServerConnection with two guards and an HTTP side door.

* **The Pusher HTTP API** (``/apps/…``, POST included) is served here, not by
  websockets, which parses only GET upgrade requests. Such a request is parsed
  with h11 (the Sans-I/O HTTP/1.1 parser the field trusts), bounded in size,
  answered by :class:`~pybroadcast.dialects.pusher_api.PusherApi`, and closed.
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

import json
import logging
from typing import Any

import h11
from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode
from websockets.protocol import State

CLOSE_RATE_LIMITED = CloseCode.POLICY_VIOLATION  # 1008
HOLD_LIMIT = 1 << 20  # bytes a client may send before it has our answer to its request
API_PREFIXES = (b"/apps/", b"/users/")  # /users/…: pusher-http-python's terminate_connections
API_BODY_LIMIT = 1 << 20  # bytes: a batch of 10 events or 100 channels of one event fits
BURST_SECONDS = 2.0
FLOODER_GRACE = 1.0  # seconds a closed flooder has to read its close frame

log = logging.getLogger("pybroadcast")


class HubConnection(ServerConnection):
    frame_rate: float = 100.0  # set per server by `configured()`
    api: Any = None  # the Pusher HTTP API, when a Pusher key is configured
    # Slots, not instance attributes: a dozen more keys in websockets' instance dict turn it from a
    # key-sharing dict (~300 bytes) into a table of its own (~1.6 KiB), for every connection.
    __slots__ = ("_head_tail", "_held", "_tokens", "_refilled", "_frame_left", "_frame_head", "_over_limit",
                 "_http", "_body", "_request", "_answering", "_api_task", "pybroadcast")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_tail = b""  # the last bytes of an unfinished request head
        self._held: bytearray | None = None  # set once the request head is complete
        self._tokens = self.frame_rate * BURST_SECONDS
        self._refilled = 0.0
        self._frame_left = 0  # payload bytes of the current frame still to come
        self._frame_head = b""  # an incomplete frame header
        self._over_limit = False
        self._http: h11.Connection | None = None  # set when the request is for the HTTP API
        self._body = bytearray()
        self._answering = False
        self._api_task: Any = None  # kept: the loop holds only a weak reference to a task

    @classmethod
    def configured(cls, frame_rate: float, api: Any = None) -> type[HubConnection]:
        return type("HubConnection", (cls,), {"frame_rate": float(frame_rate), "api": api})

    # --- holding early bytes -----------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._http is not None:
            self._http_received(data)
            return
        if self._held is not None:
            if self.protocol.state is State.CONNECTING:
                self._held += data
                if len(self._held) > HOLD_LIMIT:
                    self.transport.abort()
                return
            self._release()
        elif self.protocol.state is State.CONNECTING:
            head = self._head_tail + data
            if self.api is not None and not self._head_tail and _api_request(data):
                self._http = h11.Connection(h11.SERVER, max_incomplete_event_size=16384)
                self._http_received(data)
                return
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

    # --- the HTTP API ----------------------------------------------------------------

    def _http_received(self, data: bytes) -> None:
        http = self._http
        assert http is not None
        if self._answering:
            return  # a whole request is in (or refused): what follows is ignored
        http.receive_data(data)
        try:
            while True:
                event = http.next_event()
                if event is h11.NEED_DATA:
                    return
                if isinstance(event, h11.Request):
                    self._request = event
                elif isinstance(event, h11.Data):
                    self._body += event.data
                    if len(self._body) > API_BODY_LIMIT:
                        self._http_answer(413, {"error": f"the body is over {API_BODY_LIMIT} bytes"})
                        return
                elif isinstance(event, h11.EndOfMessage):
                    self._answering = True
                    request = self._request
                    # latin-1: any byte h11 let through decodes; the API judges what it means.
                    self._api_task = self.loop.create_task(self._http_serve(
                        request.method.decode("latin-1"), request.target.decode("latin-1"), bytes(self._body)))
                    return
                elif isinstance(event, h11.ConnectionClosed):
                    self.transport.close()
                    return
        except h11.RemoteProtocolError as exc:
            self._http_answer(400, {"error": f"bad HTTP request: {exc}"})

    def eof_received(self) -> bool | None:
        if self._http is not None:
            self._http_received(b"")  # h11's end of stream: an unfinished request is a 400 now
            return True  # keep the write side open for that answer
        return super().eof_received()

    async def _http_serve(self, method: str, target: str, body: bytes) -> None:
        try:
            status, answer = await self.api.handle(method, target, body)
        except Exception:  # the API's own errors are answers; anything else is ours
            log.exception("Pusher HTTP API failed on %s %s", method, target.partition("?")[0])
            status, answer = 500, {"error": "internal error"}
        self._http_answer(status, answer)

    def _http_answer(self, status: int, answer: Any) -> None:
        http = self._http
        assert http is not None
        self._answering = True
        body = json.dumps(answer).encode()
        try:
            self.transport.write(http.send(h11.Response(status_code=status, headers=[
                ("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")])))
            self.transport.write(http.send(h11.Data(data=body)))
            self.transport.write(http.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:
            pass  # the request was so broken that h11 will not answer it: just close
        self.transport.close()

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


def _api_request(data: bytes) -> bool:
    """Whether the first bytes of a connection are a request line for /apps/…."""
    method, _, rest = data.partition(b" ")
    return method in (b"GET", b"POST", b"PUT", b"DELETE", b"HEAD") and rest.startswith(API_PREFIXES)


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
