"""The hub's listening socket and the connections it accepted (see connection.py for one of them)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from websockets.frames import CloseCode
from websockets.http11 import Response

from .connection import HubConnection

OPEN_TIMEOUT = 10.0  # seconds from accept to the end of the opening handshake (websockets' default)
WRITE_LIMIT = 1 << 20  # bytes a client may leave unread, at least (the runtime: 4 x max_message_size if more)


class ConnectionEndpoint(Protocol):
    """What the listener's connections call; each is called on the loop, in this order.

    * ``process_request(connection, request)`` may answer the upgrade request itself
      (``connection.respond(status, text)``); None accepts it.
    * ``opened(connection)`` once the upgrade is answered with 101; False: the
      endpoint closed the connection itself and hears nothing more of it.
    * ``received(connection, message)`` for each message (str for text frames, bytes
      for binary), awaited before the next one; it handles its own errors.
    * ``closed(connection)`` once the connection is gone and its messages were handled,
      if ``opened`` took it.
    """

    async def process_request(self, connection: HubConnection, request: Any) -> Response | None: ...

    def opened(self, connection: HubConnection) -> bool: ...

    async def received(self, connection: HubConnection, message: str | bytes) -> None: ...

    async def closed(self, connection: HubConnection) -> None: ...


class Listener:
    def __init__(self, endpoint: ConnectionEndpoint, *, max_size: int, frame_rate: float = 100.0, api: Any = None,
                 close_timeout: float = 2.0, open_timeout: float = OPEN_TIMEOUT,
                 write_limit: int = WRITE_LIMIT) -> None:
        """`api`: the Pusher HTTP API, when a Pusher key is configured; `frame_rate`: frames per
        second a client may send (twice that in a burst); `write_limit`: bytes a connection may
        leave unread (beyond what the kernel holds) before it is dropped."""
        self.endpoint = endpoint
        self.max_size = max_size
        self.frame_rate = float(frame_rate)
        self.write_limit = write_limit
        self.api = api
        self.close_timeout = close_timeout
        self.open_timeout = open_timeout
        self.loop = asyncio.get_running_loop()
        # What is open: WebSocket connections and HTTP API requests (each with shutdown(code)).
        self.connections: set[Any] = _Connections()
        self.serving = False
        self._server: asyncio.Server | None = None

    async def start(self, host: str | None, port: int, reuse_port: bool = False) -> None:
        self._server = await self.loop.create_server(lambda: HubConnection(self), host, port, reuse_port=reuse_port)
        self.serving = True

    @property
    def sockets(self) -> tuple[Any, ...]:
        return self._server.sockets if self._server is not None else ()

    async def close(self, code: int = CloseCode.GOING_AWAY) -> None:
        """Stop accepting, close every connection (``code`` for the open ones), and wait until
        each is gone and its endpoint heard so."""
        self.serving = False
        if self._server is not None:
            self._server.close()
        connections: Any = self.connections
        for connection in list(connections):
            connection.shutdown(code)
        await connections.empty()
        if self._server is not None:
            await self._server.wait_closed()


class _Connections(set):  # type: ignore[type-arg]
    """A set that can be awaited until it is empty."""

    _waiter: asyncio.Future[None] | None = None

    def discard(self, item: Any) -> None:
        super().discard(item)
        if not self and self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def empty(self) -> None:
        if self:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
