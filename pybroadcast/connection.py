"""One client connection of the hub: websockets' Sans-I/O protocol under a lean asyncio protocol.

websockets' asyncio ``ServerConnection`` keeps, for every connection, a handler
task with its coroutine chain, a message assembler with its futures, a pings
table, a lost-connection future and an instance dict: at 10,000 idle connections
the hub measured ~11.6 KiB each, this layer ~4.6 KiB (RSS, same run; the upgrade
request no longer kept for the connection's life is ~4 KiB of that: see
``_forget_request``). Here the same parser and state machine
(``websockets.server.ServerProtocol``: handshake, framing and its rules, the
closing handshake, the size limit) are driven by one object with slots, and a task
exists only while a connection has messages to handle or is being opened or
closed. What it adds around the protocol:

* **Text messages are checked for UTF-8** (websockets' asyncio layer does that,
  not its protocol): invalid text closes the connection with 1007.

* **The handshake** like websockets' server: ``process_request`` (async) may
  answer; else the upgrade is accepted; a hub that stopped serving answers 503;
  ``open_timeout`` bounds the whole opening.
* **Messages are handled one at a time, in order** (``received`` is awaited
  before the next), reading pauses while ``MAX_QUEUE`` wait (websockets' rule),
  and ``closed`` runs once the connection is gone *and* its last message was
  handled, so a subscription that was being authorized cannot outlive it.
* **The Pusher HTTP API** shares the port: a connection that starts with such a
  request is handed over to :class:`~pybroadcast.api_request.ApiRequest`.
* **Nothing before the handshake is decided.** The parser reads frames as soon
  as the request ends, so a client that sends frames right after its request
  would get pongs *before* the HTTP response, and a close frame there would
  swallow the 401/403. Bytes after the request head are held (bounded) until
  the response is out, then fed in, or dropped on rejection.
  The head itself is bounded tighter than websockets does (``HEAD_LIMIT``): it
  is held, parsed and copied to PHP while PHP decides.
* **Inbound frame rate.** Every frame counts (pings and pongs included, which
  the protocol answers by itself): a token bucket of ``rate`` frames per second
  holding up to ``2 * rate``. Frames are counted by walking their headers
  *before* the parser sees them (one 64 KiB read holds ~10,000 pings, and
  parsing them all cost the hub ~50 ms before a count could stop it), only the
  frames within the limit are fed in, and the connection is closed with 1008
  without reading the rest of the flood.
* **What the connection writes on its own is bounded** (pongs, close frames): a client that
  pings within the frame rate and never reads is dropped once ``write_limit`` bytes wait for it,
  the outbox's rule for messages.
* **No extension is negotiated** (the protocol is made without any; compression
  would cost ~50 KiB per idle connection), so a server frame has no state and
  the outbox writes frames prepared once per message straight to the transport.
* **Keepalive state**: ``ping()`` and ``awaiting_pong`` for the hub's one
  keepalive timer (keepalive.py).
"""

from __future__ import annotations

import asyncio
import collections
import http
import logging
from typing import TYPE_CHECKING, Any

from websockets.frames import CloseCode, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Protocol, State
from websockets.server import ServerProtocol

from .api_request import ApiRequest, is_api_request

if TYPE_CHECKING:
    from .listener import Listener

CONNECTING, OPEN = State.CONNECTING, State.OPEN
OP_TEXT, OP_BINARY, OP_CONT, OP_PONG = Opcode.TEXT, Opcode.BINARY, Opcode.CONT, Opcode.PONG
CLOSE_RATE_LIMITED = CloseCode.POLICY_VIOLATION  # 1008
# Bytes a client may send after its request and before our answer to it (RFC 6455 4.1: it MUST
# wait): held while PHP decides, for every connection being opened, so kept small.
HOLD_LIMIT = 1 << 16
# The request line and headers: websockets allows 128 lines of 8 KiB (~1 MiB held per connection while
# PHP decides); 32 KiB is nginx's default largest head (four 8 KiB buffers), so no browser's fits less.
HEAD_LIMIT = 1 << 15
BURST_SECONDS = 2.0
FLOODER_GRACE = 1.0  # seconds a closed flooder has to read its close frame
MAX_QUEUE = 16  # messages waiting to be handled before reading pauses (websockets' default)
RESUME_AT = MAX_QUEUE // 4

log = logging.getLogger("pybroadcast")
protocol_log = logging.getLogger("websockets.server")


class HubConnection(asyncio.Protocol):
    # Slots: no instance dict (a dict of this many keys is ~1.2 KiB a connection).
    __slots__ = ("server", "protocol", "transport", "request", "pybroadcast", "awaiting_pong",
                 "_task", "_timer", "_inbox", "_paused", "_fragment", "_opened", "_lost", "_deaf",
                 "_first", "_head_tail", "_head_size", "_held", "_tokens", "_refilled", "_frame_left", "_frame_head",
                 "direct_fd", "_fd")

    def __init__(self, server: Listener) -> None:
        self.server = server
        self.protocol = ServerProtocol(max_size=server.max_size, logger=protocol_log)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set by connection_made
        self.request: Request | None = None  # the upgrade request (the endpoint drops it once open)
        self.pybroadcast: Any = None  # the endpoint's own state for this connection
        self.awaiting_pong = False
        self._task: asyncio.Task[None] | None = None  # opening, or handling messages, or closing
        self._timer: asyncio.TimerHandle | None = None  # open_timeout, then close_timeout
        self._inbox: collections.deque[str | bytes] | None = None  # messages not handled yet
        self._paused = False
        self._fragment: tuple[Any, bytearray] | None = None  # (opcode, data) of a fragmented message
        self._opened = False  # the endpoint took the connection (and will hear that it closed)
        self._lost = False
        self._deaf = False  # what the client sends is no longer read (rejected, or a flooder)
        self._first: bytes | None = b""  # None once the first bytes told what the request is
        self._head_tail = b""  # the last bytes of an unfinished request head
        self._head_size = 0  # bytes of the request head so far
        self._held: bytearray | None = None  # set once the request head is complete
        self._tokens = server.frame_rate * BURST_SECONDS
        self._refilled = 0.0
        self._frame_left = 0  # payload bytes of the current frame still to come
        self._frame_head = b""  # an incomplete frame header
        self.direct_fd = -1  # the socket while the outbox may send to it itself, else -1 (_direct)
        self._fd = -1

    # --- what the rest of the hub uses -----------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.server.loop

    @property
    def remote_address(self) -> Any:
        return self.transport.get_extra_info("peername") if self.transport is not None else None

    @property
    def close_code(self) -> int | None:
        return self.protocol.close_code

    def respond(self, status: int, text: str) -> Response:
        """An HTTP answer instead of the upgrade (for ``process_request``)."""
        return self.protocol.reject(status, text)

    def send_text(self, text: bytes) -> None:
        """A text frame now, outside the outbox (for what is sent before a connection is a peer)."""
        if self.protocol.state is OPEN:
            self.protocol.send_text(text)
            self._send_data()

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake; the TCP connection is dropped if it does not end in close_timeout."""
        if self.protocol.state is OPEN:
            self.protocol.send_close(code, reason)
            self._send_data()
            self._expect_close()

    def ping(self) -> None:
        """A ping whose pong (any pong: RFC 6455 lets a client send them unasked) clears ``awaiting_pong``."""
        if self.protocol.state is OPEN:
            self.awaiting_pong = True
            self.protocol.send_ping(b"")
            self._send_data()

    def abort(self) -> None:
        """Drop the TCP connection now; nothing more is written to it."""
        self.direct_fd = -1
        self.transport.abort()

    def shutdown(self, code: int) -> None:
        """The hub is stopping: close an open connection, drop one that has not asked for anything."""
        if self.protocol.state is OPEN:
            self.close(code, "server shutting down")
        elif self._task is None:
            self.abort()  # no whole request yet (one being answered gets a 503 from _open)

    # --- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)
        self._timer = self.server.loop.call_later(self.server.open_timeout, self._time_out)

    def data_received(self, data: bytes) -> None:
        if self._deaf:
            return
        if self.protocol.state is OPEN and self._held is None:
            self._feed(data)
        elif self._held is not None:
            self._hold(data)
        elif self.protocol.state is CONNECTING:
            self._head_received(data)
        else:
            self._receive(data)  # closing: the client's close frame is still wanted

    def eof_received(self) -> bool | None:
        self.protocol.receive_eof()
        self._send_data()
        return None  # the transport closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.direct_fd = -1  # the transport closes the socket right after: its number is anyone's then
        self.protocol.receive_eof()  # idempotent; the state is CLOSED from here on
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._lost = True
        if self._task is None:
            self._next()

    def pause_writing(self) -> None:
        self.direct_fd = -1  # bytes wait in the transport: what follows must queue behind them

    def resume_writing(self) -> None:
        self._direct()

    def _direct(self) -> None:
        """Whether the outbox may send to the socket itself (send_many.py) rather than through the
        transport: only while the connection is open and the transport holds nothing unsent, so
        that no byte overtakes another. The transport is set to pause us as soon as it buffers
        anything and to resume us once empty (``set_write_buffer_limits(high=0)``); a connection that
        stops being open clears it (``_send_data``, ``abort``, ``connection_lost``)."""
        open_ = self.protocol.state is OPEN and not self._lost and not self.transport.is_closing()
        self.direct_fd = self._fd if open_ and not self.transport.get_write_buffer_size() else -1

    # --- the opening handshake -----------------------------------------------------------

    def _head_received(self, data: bytes) -> None:
        if self._first is not None:  # the first bytes, until they tell an HTTP API request from an upgrade
            data = self._first + data
            api = is_api_request(data) if self.server.api is not None else False
            if api is None:
                self._first = data
                return
            self._first = None
            if api:
                self._hand_over().data_received(data)
                return
        head = self._head_tail + data
        end = head.find(b"\r\n\r\n")
        cut = end + 4 - len(self._head_tail) if end >= 0 else len(data)  # where the head ends in data
        self._head_size += cut
        if self._head_size > HEAD_LIMIT:
            self._refuse_head()
            return
        if end >= 0:
            self._held = bytearray()
            if not self._hold(data[cut:]):
                return
            data = data[:cut]
        else:
            self._head_tail = head[-3:]
        self._receive(data)
        if self._held is not None and self._task is None and self.request is None:
            self._deaf = True  # the head was no request the parser took: it answered and closed

    def _refuse_head(self) -> None:
        """431, as websockets answers a header line over its limit; nothing more is read."""
        self._deaf = True
        self.protocol.send_response(self.protocol.reject(
            http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
            f"Failed to open a WebSocket connection: request head over {HEAD_LIMIT} bytes.\n"))
        self._send_data()

    def _hold(self, data: bytes) -> bool:
        """Keeps bytes that came after the request until it is answered; False: too many, dropped."""
        held = self._held
        assert held is not None
        held += data
        if len(held) > HOLD_LIMIT:
            self.abort()
            return False
        return True

    def _request(self, request: Request) -> None:
        self.request = request
        self._task = self.server.loop.create_task(self._open(request))

    async def _open(self, request: Request) -> None:
        server = self.server
        response: Response | None
        try:
            response = await server.endpoint.process_request(self, request)
        except Exception:
            log.exception("process_request failed")
            response = self.protocol.reject(http.HTTPStatus.INTERNAL_SERVER_ERROR,
                                            "Failed to open a WebSocket connection.\nSee server log for more information.\n")
        if response is None:
            response = self.protocol.accept(request)
        if response.status_code == http.HTTPStatus.SWITCHING_PROTOCOLS and not server.serving:
            response = self.protocol.reject(http.HTTPStatus.SERVICE_UNAVAILABLE, "Server is shutting down.\n")
        if self.protocol.state is CONNECTING and not self.transport.is_closing():
            self.protocol.send_response(response)
            self._send_data()
            if self.protocol.state is OPEN:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                _forget_request(self.protocol)
                if self.transport.get_extra_info("ssl_object") is None:  # bytes on the socket are the stream's
                    self._fd = self.transport.get_extra_info("socket").fileno()
                    self.transport.set_write_buffer_limits(high=0)
                    self._direct()
                try:
                    self._opened = server.endpoint.opened(self)
                except Exception:
                    log.exception("opening a connection failed")
                    self.abort()
                held, self._held = self._held, None
                if held and self._opened:
                    self._feed(bytes(held))
            else:
                self._held = None
                self._deaf = True
                self._expect_close()
        self._task = None
        self._next()

    def _hand_over(self) -> ApiRequest:
        """The connection is a request to the HTTP API: its own protocol takes the transport."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._deaf = True
        self._release()
        return ApiRequest(self.server, self.transport)

    def _time_out(self) -> None:
        self._timer = None
        self.abort()

    # --- messages ------------------------------------------------------------------------

    def _receive(self, data: bytes) -> None:
        protocol = self.protocol
        protocol.receive_data(data)
        events = protocol.events_received()
        self._send_data()  # pongs, a close frame, an error answer
        if protocol.close_expected():
            self._expect_close()
        for event in events:
            if self.request is None and isinstance(event, Request):
                self._request(event)
                continue
            opcode = event.opcode
            if opcode is OP_TEXT or opcode is OP_BINARY:
                if event.fin:
                    self._message(opcode, event.data)
                else:
                    self._fragment = (opcode, bytearray(event.data))
            elif opcode is OP_CONT and self._fragment is not None:
                self._fragment[1].extend(event.data)
                if event.fin:
                    first, whole = self._fragment
                    self._fragment = None
                    self._message(first, whole)
            elif opcode is OP_PONG:
                self.awaiting_pong = False

    def _message(self, opcode: Any, data: Any) -> None:
        message: str | bytes
        if opcode is OP_TEXT:
            try:
                message = bytes(data).decode()
            except UnicodeDecodeError as exc:  # websockets' answer: 1007
                self.protocol.fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
                self._send_data()
                self._expect_close()
                return
        else:
            message = bytes(data)
        if not self._opened:
            return  # the endpoint did not take the connection (it is closing)
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = collections.deque()
        inbox.append(message)
        if len(inbox) >= MAX_QUEUE and not self._paused:
            self._paused = True
            self.transport.pause_reading()
        if self._task is None:
            self._next()

    def _next(self) -> None:
        """With no task running: start what the connection has to do next, if anything."""
        if self._opened and (self._inbox or self._lost):
            self._task = self.server.loop.create_task(self._work())
        elif self._lost:
            self._release()

    async def _work(self) -> None:
        endpoint, inbox = self.server.endpoint, self._inbox
        while inbox:
            message = inbox.popleft()
            if self._paused and len(inbox) <= RESUME_AT and not self._deaf:
                self._paused = False
                self.transport.resume_reading()
            try:
                await endpoint.received(self, message)
            except Exception:  # the endpoint logs its own; this is a bug of ours in it
                log.exception("handling a message failed")
                self.close(CloseCode.INTERNAL_ERROR)
        self._inbox = None  # an idle connection keeps no deque (~600 bytes)
        if self._lost:
            self._opened = False
            try:
                await endpoint.closed(self)
            except Exception:
                log.exception("closing a connection failed")
            self._release()
        self._task = None

    def _release(self) -> None:
        """The connection is over: off the listener, and the reference cycles among its objects broken,
        so that they are freed now rather than by the next full garbage collection (which, with
        thousands of connections, stalls the hub for a tenth of a second and more)."""
        self.server.connections.discard(self)
        protocol = self.protocol
        protocol.parser = None  # a generator, whose frame holds the protocol
        protocol.parser_exc = None  # an EOFError, whose traceback holds that frame
        self.pybroadcast = None  # the endpoint's state (a Peer), which holds this connection
        if self.transport.is_closing() and hasattr(self.transport, "_read_ready_cb"):
            # asyncio's socket transport keeps a bound method of itself (to read with); it is read
            # nowhere once the transport is closed (asyncio private: hence the test for it).
            self.transport._read_ready_cb = None  # type: ignore[attr-defined]

    # --- writing -------------------------------------------------------------------------

    def _send_data(self) -> None:
        transport = self.transport
        if self.protocol.state is not OPEN:
            self.direct_fd = -1  # a close frame may be among these: no message after it
        for data in self.protocol.data_to_send():
            if data:
                transport.write(data)
            elif transport.can_write_eof():
                try:
                    transport.write_eof()
                except Exception:  # write_eof() documents none; OSError is plausible
                    pass
            else:
                transport.close()
        if self.protocol.state is OPEN and transport.get_write_buffer_size() > self.server.write_limit:
            # What the connection writes on its own (pongs above all: a client may ping within the
            # frame rate and never read) is bounded like the outbox's frames: past the limit, drop it.
            # (Not once closing: the close frame still goes out, behind what is queued.)
            address = self.remote_address
            log.warning("closing a connection from %s: over %d bytes unsent (the client does not read)",
                        address[0] if address else "?", self.server.write_limit)
            self._deaf = True
            self.abort()

    def _expect_close(self) -> None:
        """The client has close_timeout to end the TCP connection; then it is dropped."""
        if self._timer is None and not self._lost:
            self._timer = self.server.loop.call_later(self.server.close_timeout, self._time_out)

    # --- frame rate ------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        if self.protocol.state is OPEN:
            self._refill()
            allowed = self._admit(data)
            if allowed < len(data):
                self._receive(data[:allowed])
                self._close_flooder()
                return
        self._receive(data)

    def _refill(self) -> None:
        now = self.server.loop.time()
        if self._refilled:
            capacity = self.server.frame_rate * BURST_SECONDS
            self._tokens = min(capacity, self._tokens + (now - self._refilled) * self.server.frame_rate)
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
        self._deaf = True
        address = self.remote_address
        log.warning("closing a connection from %s with 1008: over %g frames/s",
                    address[0] if address else "?", self.server.frame_rate)
        if self.protocol.state is OPEN:
            self.protocol.fail(CLOSE_RATE_LIMITED, "frame rate limit exceeded")  # close frame, then FIN
            self._send_data()
        # Stop reading: the flood waits in the kernel and TCP flow control stalls the
        # sender at no cost to us. Closing now would answer unread data with a reset,
        # which can destroy the close frame before the client reads it.
        self.transport.pause_reading()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.server.loop.call_later(FLOODER_GRACE, self._time_out)


def _forget_request(protocol: ServerProtocol) -> None:
    """ServerProtocol's parser is one generator for the request and then the frames; its frame
    keeps the request (~1.5 KiB with its headers, measured) for the connection's life. The frame
    parser is started on its own instead, as websockets itself swaps parsers (``discard()``), when
    nothing past the request was read (the request head is fed alone: see ``_head_received``)."""
    if not protocol.reader.buffer:
        protocol.parser = Protocol.parse(protocol)
        next(protocol.parser)


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
