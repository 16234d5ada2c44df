"""The WebSocket endpoint: HTTP checks before the upgrade, then a connection's life as a peer of the hub
(the listener's ``ConnectionEndpoint``)."""

from __future__ import annotations

import http
import itertools
import logging
import os
from typing import Any

from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from .auth import Authenticator, request_info
from .callbacks import CallbackAbandoned
from .connection import HubConnection
from .dialects import Dialect
from .hub import Hub
from .peer import Outbox, Peer
from .settings import Settings

log = logging.getLogger("pybroadcast")

HEALTH_PATH = "/health"


class Endpoint:
    def __init__(self, settings: Settings, hub: Hub, authenticator: Authenticator, outbox: Outbox,
                 dialects: list[Dialect]) -> None:
        self._dialects = {dialect.path: dialect for dialect in dialects if not dialect.prefix}
        self._prefixed = [dialect for dialect in dialects if dialect.prefix]
        self._origins = frozenset(settings.allowed_origins)
        self._any_origin = "*" in self._origins
        self._hub = hub
        self._auth = authenticator
        self._outbox = outbox
        self._ids = itertools.count(1)
        # Connection ids "<node>.<n>", digits only (Pusher's socket_id format), unique across nodes and restarts.
        self._node = int.from_bytes(os.urandom(4), "big")

    async def process_request(self, connection: HubConnection, request: Request) -> Response | None:
        path = request.path.partition("?")[0]
        if path == HEALTH_PATH:
            return connection.respond(http.HTTPStatus.OK, "ok\n")
        dialect = self._dialects.get(path) or next((d for d in self._prefixed if path.startswith(d.path)), None)
        if dialect is None:
            paths = " or ".join(self._dialects)
            return connection.respond(http.HTTPStatus.NOT_FOUND, f"Not found; the WebSocket endpoint is {paths}\n")
        origins = request.headers.get_all("Origin")
        origin = origins[0] if len(origins) == 1 else None  # two Origin headers: no one origin to trust
        if len(origins) > 1 or (not self._any_origin and origin not in self._origins):
            log.info("rejected origin %r from %s", origin, _address(connection))
            return connection.respond(http.HTTPStatus.FORBIDDEN, "Origin not allowed\n")
        info = request_info(request.path, list(request.headers.raw_items()), _address(connection))
        try:
            user = await self._auth.authenticate(info)
        except CallbackAbandoned:
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "Server is shutting down\n")
        if user is None and not dialect.anonymous:
            log.info("rejected unauthenticated connection from %s", info["remote_addr"])
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "Not authenticated\n")
        connection.pybroadcast = (user, dialect)  # until opened(): then the Peer
        return None

    def opened(self, connection: HubConnection) -> bool:
        user, dialect = connection.pybroadcast
        if not dialect.admit(connection):
            return False
        connection.request = None  # its headers served their purpose: ~3 KiB a connection otherwise
        peer = Peer(connection, f"{self._node}.{next(self._ids)}", user, self._outbox, dialect)
        connection.pybroadcast = peer
        self._hub.attach(peer)
        log.info("connected user=%s connection=%s from %s", peer.user, peer.id, _address(connection))
        return True

    async def received(self, connection: HubConnection, message: str | bytes) -> None:
        peer: Peer = connection.pybroadcast
        try:
            await peer.dialect.receive(peer, message, self._hub)
        except Exception:  # a bug of ours: loud, with its traceback, and the connection is closed with 1011
            log.exception("connection handler failed for connection=%s", peer.id)
            connection.close(CloseCode.INTERNAL_ERROR, "")

    async def closed(self, connection: HubConnection) -> None:
        peer: Peer = connection.pybroadcast
        await self._hub.detach(peer)
        log.info("disconnected user=%s connection=%s code=%s", peer.user, peer.id, _close_code(connection))


def _address(connection: HubConnection) -> str:
    address: Any = connection.remote_address
    return str(address[0]) if address else ""


def _close_code(connection: HubConnection) -> Any:
    return connection.close_code if connection.close_code is not None else "none"
