"""The WebSocket endpoint: HTTP checks before the upgrade, then the per-connection loop."""

from __future__ import annotations

import http
import itertools
import logging
import os
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from . import protocol
from .auth import Authenticator, request_info
from .callbacks import CallbackAbandoned
from .hub import Hub
from .peer import Outbox, Peer
from .settings import Settings

log = logging.getLogger("pybroadcast")

WS_PATH = "/ws"
HEALTH_PATH = "/health"


class Endpoint:
    def __init__(self, settings: Settings, hub: Hub, authenticator: Authenticator, outbox: Outbox) -> None:
        self._origins = frozenset(settings.allowed_origins)
        self._any_origin = "*" in self._origins
        self._hub = hub
        self._auth = authenticator
        self._outbox = outbox
        self._ids = itertools.count(1)
        self._node = os.urandom(4).hex()  # connection ids stay unique across nodes and restarts

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.partition("?")[0]
        if path == HEALTH_PATH:
            return connection.respond(http.HTTPStatus.OK, "ok\n")
        if path != WS_PATH:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Not found; the WebSocket endpoint is /ws\n")
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
        if user is None:
            log.info("rejected unauthenticated connection from %s", info["remote_addr"])
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "Not authenticated\n")
        connection.pybroadcast_user = user  # type: ignore[attr-defined]
        return None

    async def handle(self, connection: ServerConnection) -> None:
        peer = Peer(connection, f"{self._node}.{next(self._ids)}", connection.pybroadcast_user, self._outbox)  # type: ignore[attr-defined]
        hub = self._hub
        hub.attach(peer)
        log.info("connected user=%s connection=%s from %s", peer.user, peer.id, _address(connection))
        try:
            async for frame in connection:
                try:
                    action = protocol.parse(frame)
                except protocol.ProtocolError as exc:
                    peer.send(protocol.error(exc.code, str(exc), exc.channel))
                    continue
                if action.action == "subscribe":
                    await hub.subscribe(peer, action.channel)
                else:
                    await hub.unsubscribe(peer, action.channel)
        except ConnectionClosed:
            pass
        finally:
            await hub.detach(peer)
            log.info("disconnected user=%s connection=%s code=%s", peer.user, peer.id, _close_code(connection))


def _address(connection: ServerConnection) -> str:
    address: Any = connection.remote_address
    return str(address[0]) if address else ""


def _close_code(connection: ServerConnection) -> Any:
    return connection.close_code if connection.close_code is not None else "none"
