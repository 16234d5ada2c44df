"""One request to the Pusher HTTP API (``/apps/…``, ``/users/…``) on the hub's WebSocket port.

websockets parses only GET upgrade requests, so a connection whose first bytes are such a
request is handed over to this protocol (``transport.set_protocol``): the request is parsed
with h11 (the Sans-I/O HTTP/1.1 parser the field trusts), bounded in size and time, answered by
:class:`~pybroadcast.dialects.pusher_api.PusherApi` as JSON, and the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

import h11

if TYPE_CHECKING:
    from .listener import Listener

API_PREFIXES = (b"/apps/", b"/users/")  # /users/…: pusher-http-python's terminate_connections
BODY_LIMIT = 1 << 20  # bytes: a batch of 10 events or 100 channels of one event fits
HEAD_LIMIT = 16384  # bytes of request line and headers

log = logging.getLogger("pybroadcast")


METHODS = (b"GET", b"POST", b"PUT", b"DELETE", b"HEAD")


def is_api_request(data: bytes) -> bool | None:
    """Whether the first bytes of a connection are a request line for the HTTP API; None while
    they are too few to tell (TCP may deliver a request line in pieces: at most 13 bytes wait)."""
    method, space, rest = data.partition(b" ")
    if not space:
        return None if any(m.startswith(data) for m in METHODS) else False
    if method not in METHODS:
        return False
    if rest.startswith(API_PREFIXES):
        return True
    return None if any(prefix.startswith(rest) for prefix in API_PREFIXES) else False


class ApiRequest(asyncio.Protocol):
    def __init__(self, listener: Listener, transport: asyncio.Transport) -> None:
        """Takes `transport` over; what it read so far goes to ``data_received``."""
        self._listener = listener
        self.transport = transport
        self._http = h11.Connection(h11.SERVER, max_incomplete_event_size=HEAD_LIMIT)
        self._request: h11.Request | None = None
        self._body = bytearray()
        self._task: asyncio.Task[None] | None = None  # kept: the loop holds only a weak reference
        self._answered = False
        self._timer = listener.loop.call_later(listener.open_timeout, transport.abort)  # a slow request
        listener.connections.add(self)
        transport.set_protocol(self)

    def shutdown(self, code: int) -> None:
        """The hub is stopping: a request still coming in is dropped; one being answered finishes."""
        if self._task is None and not self._answered:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._task is not None or self._answered:
            return  # a whole request is in (or refused): what follows is ignored
        self._http.receive_data(data)
        try:
            while True:
                event = self._http.next_event()
                if event is h11.NEED_DATA:
                    return
                if isinstance(event, h11.Request):
                    self._request = event
                elif isinstance(event, h11.Data):
                    self._body += event.data
                    if len(self._body) > BODY_LIMIT:
                        self._answer(413, {"error": f"the body is over {BODY_LIMIT} bytes"})
                        return
                elif isinstance(event, h11.EndOfMessage):
                    request = self._request
                    assert request is not None
                    # latin-1: any byte h11 let through decodes; the API judges what it means.
                    self._task = self._listener.loop.create_task(self._serve(
                        request.method.decode("latin-1"), request.target.decode("latin-1"), bytes(self._body)))
                    return
                elif isinstance(event, h11.ConnectionClosed):
                    self.transport.close()
                    return
        except h11.RemoteProtocolError as exc:
            self._answer(400, {"error": f"bad HTTP request: {exc}"})

    def eof_received(self) -> bool:
        self.data_received(b"")  # h11's end of stream: an unfinished request is a 400 now
        return True  # keep the write side open for that answer

    def connection_lost(self, exc: Exception | None) -> None:
        self._timer.cancel()
        self._listener.connections.discard(self)

    async def _serve(self, method: str, target: str, body: bytes) -> None:
        try:
            status, answer = await self._listener.api.handle(method, target, body)
        except Exception:  # the API's own errors are answers; anything else is ours
            log.exception("Pusher HTTP API failed on %s %s", method, target.partition("?")[0])
            status, answer = 500, {"error": "internal error"}
        self._answer(status, answer)

    def _answer(self, status: int, answer: Any) -> None:
        self._answered = True
        body = json.dumps(answer).encode()
        try:
            self.transport.write(self._http.send(h11.Response(status_code=status, headers=[
                ("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")])))
            self.transport.write(self._http.send(h11.Data(data=body)))
            self.transport.write(self._http.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:
            pass  # the request was so broken that h11 will not answer it: just close
        self.transport.close()
