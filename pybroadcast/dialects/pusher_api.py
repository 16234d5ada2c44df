"""Pusher's HTTP API on ``/apps/{app_id}/…``: what Laravel's broadcaster and the Pusher server SDKs call.

Every request is signed (``auth_key``, ``auth_timestamp`` within 600 s,
``auth_version``, ``body_md5``, ``auth_signature`` = HMAC-SHA256 of
``METHOD\\nPATH\\nQUERY``), checked in constant time. A request is validated
whole before anything is published: nothing is half-published. Events go
through the hub's broker, so with the Redis driver they reach every node.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qsl, unquote

from .. import validation
from ..errors import BroadcastError
from ..events import DISCONNECT, MESSAGE, Event

log = logging.getLogger("pybroadcast")

MAX_CHANNELS = 100  # per event, as Pusher
MAX_BATCH = 10  # events per batch, as Pusher
TIMESTAMP_WINDOW = 600  # seconds, as Pusher


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class PusherApi:
    def __init__(self, app_id: str, key: str, secret: str, hub: Any, max_message_size: int) -> None:
        self._app_id = app_id
        self._key = key.encode()
        self._secret = secret.encode()
        self._hub = hub
        self._max = max_message_size

    async def handle(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        """(HTTP status, JSON-able answer) for one request."""
        try:
            path, _, query = target.partition("?")
            self._check_signature(method, path, query, body)
            parts = path.split("/")[2:]
            if path.startswith("/users/"):  # pusher-http-python 3.3.4 leaves out /apps/{id} here
                parts = [self._app_id, *path.split("/")[1:]]
            return 200, await self._route(method, parts, _params(query), body)
        except ApiError as exc:
            return exc.status, {"error": str(exc)}
        except BroadcastError as exc:
            return 503, {"error": str(exc)}

    def _check_signature(self, method: str, path: str, query: str, body: bytes) -> None:
        params = _params(query)
        if not hmac.compare_digest(params.get("auth_key", "").encode(), self._key):
            raise ApiError(401, "Unknown auth_key")
        try:
            timestamp = int(params.get("auth_timestamp", ""))
        except ValueError:
            raise ApiError(401, "auth_timestamp is missing or not a number") from None
        if abs(time.time() - timestamp) > TIMESTAMP_WINDOW:
            raise ApiError(401, "Timestamp expired: given timestamp is more than 600 seconds from now")
        if body and not hmac.compare_digest(params.get("body_md5", "").encode(),
                                            hashlib.md5(body).hexdigest().encode()):  # noqa: S324 - Pusher's spec
            raise ApiError(401, "body_md5 does not match the body")
        signed = "&".join(f"{k}={v}" for k, v in sorted((k.lower(), v) for k, v in params.items() if k != "auth_signature"))
        expected = hmac.new(self._secret, f"{method}\n{path}\n{signed}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(params.get("auth_signature", "").encode(), expected.encode()):
            raise ApiError(401, "Invalid signature: you should have sent HmacSHA256Hex of the request")

    async def _route(self, method: str, parts: list[str], params: dict[str, str], body: bytes) -> Any:
        # parts: the path after /apps/: [app_id, resource, ...]
        if not parts or parts[0] != self._app_id:
            raise ApiError(404, "Unknown app")
        route = (method, *parts[1:2], len(parts))
        if route == ("POST", "events", 2):
            await self._publish([self._event(_json(body))])
            return {}
        if route == ("POST", "batch_events", 2):
            batch = _json(body).get("batch")
            if not isinstance(batch, list) or not 0 < len(batch) <= MAX_BATCH:
                raise ApiError(400, f"batch must be a list of 1-{MAX_BATCH} events")
            await self._publish([self._event(item, batch=True) for item in batch])
            return {"batch": [{} for _ in batch]}
        if route == ("GET", "channels", 2):
            return await self._channels(params)
        if route == ("GET", "channels", 3):
            return await self._channel(_channel(unquote(parts[2])), params)
        if route == ("GET", "channels", 4) and parts[3] == "users":
            channel = _channel(unquote(parts[2]))
            if not validation.is_presence_channel(channel):
                raise ApiError(400, "users are only available for presence channels")
            return {"users": [{"id": user} for user in await self._hub.members(channel)]}
        if route == ("POST", "users", 4) and parts[3] == "terminate_connections":
            user = _valid(validation.user_id, unquote(parts[2]))
            await self._hub.publish(Event(DISCONNECT, user))
            return {}
        raise ApiError(404, "Not found")

    def _event(self, body: Any, batch: bool = False) -> list[Event]:
        if not isinstance(body, dict):
            raise ApiError(400, "an event must be a JSON object")
        name, data, socket_id = body.get("name"), body.get("data"), body.get("socket_id") or ""
        channels = [body.get("channel")] if batch else body.get("channels") or [body.get("channel")]
        if not isinstance(name, str) or not isinstance(data, str):
            raise ApiError(400, "name and data must be strings")
        if not isinstance(channels, list) or not 0 < len(channels) <= MAX_CHANNELS:
            raise ApiError(400, f"an event goes to 1-{MAX_CHANNELS} channels")
        if not isinstance(socket_id, str):
            raise ApiError(400, "socket_id must be a string")
        name = _valid(validation.event_name, name)
        data = _valid(lambda d: validation.message(d, self._max), data)
        return [Event(MESSAGE, _channel(channel), data, name, socket_id) for channel in channels]

    async def _publish(self, events: list[list[Event]]) -> None:
        for group in events:  # all validated by now: nothing is half-published for bad input
            for event in group:
                await self._hub.publish(event)

    async def _channels(self, params: dict[str, str]) -> Any:
        prefix = params.get("filter_by_prefix", "")
        want_users = "user_count" in params.get("info", "").split(",")
        if want_users and not prefix.startswith("presence-"):
            raise ApiError(400, "user_count is only available with filter_by_prefix=presence-")
        found: dict[str, Any] = {}
        for channel in sorted(await self._hub.occupied_channels()):
            if channel.startswith(prefix):
                found[channel] = {"user_count": len(await self._hub.members(channel))} if want_users else {}
        return {"channels": found}

    async def _channel(self, channel: str, params: dict[str, str]) -> Any:
        info = params.get("info", "").split(",")
        users = await self._hub.members(channel)
        answer: dict[str, Any] = {"occupied": bool(users) or channel in self._hub.registry.channels}
        if "user_count" in info:
            if not validation.is_presence_channel(channel):
                raise ApiError(400, "user_count is only available for presence channels")
            answer["user_count"] = len(users)
        if "subscription_count" in info:
            answer["subscription_count"] = sum(len(peers) for peers in self._hub.registry.channels.get(channel, {}).values())
        return answer


def _params(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=True))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except (ValueError, RecursionError):
        raise ApiError(400, "the body is not valid JSON") from None


def _channel(value: Any) -> str:
    return _valid(validation.channel, value if isinstance(value, str) else "")


def _valid(check: Any, value: Any) -> Any:
    try:
        return check(value)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
