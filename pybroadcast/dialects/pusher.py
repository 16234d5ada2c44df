"""The Pusher dialect: Pusher protocol 7 on ``/app/{key}``, as pusher-js 8 and Laravel Echo 2 speak it.

Channels, users, presence and hooks are the hub's, shared with the native
dialect: a ``broadcast()`` reaches both. Private and presence subscriptions are
authorized by a Pusher signature (``key:HMAC-SHA256(secret, socket_id:channel[:channel_data])``,
compared in constant time) or, when the handshake identified the user
(``onAuthenticate``/``auth_url``) and ``auth`` is empty, by ``onAuthorize`` in
process. Connections nobody identified are anonymous: public channels only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from .. import validation
from ..events import JOIN, MESSAGE, Event
from . import Dialect, json_frame as _frame, json_text

log = logging.getLogger("pybroadcast")

PREFIX = "/app/"
# Pusher's close codes: 4000-4099 do not reconnect, 4200-4299 reconnect at once.
CLOSE_UNKNOWN_APP = 4001
CLOSE_UNAUTHORIZED = 4009  # disconnectUser(): the app threw this user out
CLOSE_RECONNECT = 4200  # the hub is going away: reconnect at once (to another node)
ERROR_BAD_FRAME = 4200  # answered with pusher:error; the connection stays open
ERROR_CLIENT_EVENT = 4301  # client events off, over the rate, or not allowed on that channel
CLIENT_EVENT_RATE = 10.0  # per second per connection, as Pusher
USER_CHANNEL = "#server-to-user-"
CACHE_PREFIXES = ("cache-", "private-cache-", "private-encrypted-cache-", "presence-cache-")


def _internal(event: str, data: Any, channel: str | None = None) -> bytes:
    """An event whose ``data`` pusher-js expects as a JSON *string*."""
    body: dict[str, Any] = {"event": event, "data": json.dumps(data, separators=(",", ":"))}
    if channel is not None:
        body["channel"] = channel
    return _frame(body)


def _error(code: int, message: str) -> dict[str, Any]:
    return {"event": "pusher:error", "data": {"code": code, "message": message}}


def error(code: int, message: str) -> bytes:
    return _frame(_error(code, message))


PONG = _frame({"event": "pusher:pong", "data": {}})


class PusherDialect(Dialect):
    """Contract in :class:`pybroadcast.dialects.Dialect`."""

    path = PREFIX
    prefix = True  # /app/{key}
    anonymous = True  # an unidentified connection is served (public channels)
    presence_members = True  # subscription_succeeded lists a presence channel's members
    disconnect_code = CLOSE_UNAUTHORIZED
    shutdown_code = CLOSE_RECONNECT

    def __init__(self, key: str, secret: str, activity_timeout: float, client_events: str = "off",
                 max_message_size: int = 65536) -> None:
        self.key = key
        self._secret = secret.encode()
        self._activity_timeout = max(1, int(activity_timeout))
        self._client_events = client_events == "members"
        self._max = max_message_size

    # --- admission -------------------------------------------------------------------

    def admit(self, connection: Any) -> bool:
        key = connection.request.path.partition("?")[0][len(PREFIX):]
        if hmac.compare_digest(key.encode(), self.key.encode()):
            return True
        connection.send_text(json_text(_error(CLOSE_UNKNOWN_APP, f"App key {key[:40]} does not exist")))
        connection.close(CLOSE_UNKNOWN_APP, "unknown app key")
        return False

    # --- frames out ------------------------------------------------------------------

    def connected(self, user: str | None, connection_id: str) -> bytes:
        return _internal("pusher:connection_established",
                         {"socket_id": connection_id, "activity_timeout": self._activity_timeout})

    def subscribed(self, channel: str, members: dict[str, str] | None = None,
                   position: tuple[str, int, bool | None] | None = None) -> bytes:
        if members is None:
            return _internal("pusher_internal:subscription_succeeded", {}, channel)
        presence = {"ids": list(members), "hash": {user: _info(info) for user, info in members.items()},
                    "count": len(members)}
        return _internal("pusher_internal:subscription_succeeded", {"presence": presence}, channel)

    def unsubscribed(self, channel: str) -> bytes:
        return b""  # Pusher does not answer an unsubscribe

    def refused(self, channel: str, code: str, message: str) -> bytes:
        status = 429 if code == "too_many_channels" else 403
        return _internal("pusher:subscription_error", {"type": "AuthError", "error": message, "status": status},
                         channel)

    def message(self, channel: str, data: str, name: str = "", user: str = "", offset: int = 0,
                epoch: str = "") -> bytes:
        if user:
            return _frame({"event": name, "channel": channel, "data": data, "user_id": user})
        return _frame({"event": name or "message", "channel": channel, "data": data})

    def direct(self, user: str, data: str, name: str = "") -> bytes:
        return _frame({"event": name or "message", "channel": USER_CHANNEL + user, "data": data})

    def replays_last(self, channel: str) -> bool:
        """Cache channels: the newest kept message on subscribe (from the channel's history)."""
        return channel.startswith(CACHE_PREFIXES)

    def nothing_to_replay(self, channel: str) -> bytes:
        return _frame({"event": "pusher:cache_miss", "channel": channel})

    def presence(self, kind: str, channel: str, user: str, info: str = "") -> bytes:
        if kind == JOIN:
            return _internal("pusher_internal:member_added", {"user_id": user, "user_info": _info(info)}, channel)
        return _internal("pusher_internal:member_removed", {"user_id": user}, channel)

    # --- frames in -------------------------------------------------------------------

    async def receive(self, peer: Any, message: str | bytes, hub: Any) -> None:
        try:
            event, data = _parse(message)
        except ValueError as exc:
            peer.send(error(ERROR_BAD_FRAME, str(exc)))
            return
        if event == "pusher:ping":
            peer.send(PONG)
        elif event == "pusher:pong":
            pass
        elif event == "pusher:subscribe":
            await self._subscribe(peer, hub, data)
        elif event == "pusher:unsubscribe":
            channel = data.get("channel")
            if isinstance(channel, str) and validation.is_valid_channel(channel):
                await hub.unsubscribe(peer, channel)
        elif event == "pusher:signin":
            self._signin(peer, hub, data)
        elif event.startswith("client-"):
            await self._client_event(peer, hub, event, data)
        else:
            peer.send(error(ERROR_BAD_FRAME, f"unsupported event {event[:60]!r}"))

    async def _subscribe(self, peer: Any, hub: Any, data: dict[str, Any]) -> None:
        channel = data.get("channel")
        if not isinstance(channel, str):
            peer.send(error(ERROR_BAD_FRAME, "pusher:subscribe needs a channel"))
            return
        if channel.startswith(USER_CHANNEL):  # pusher-js after signin: user events come by user id
            if peer.user is not None and channel == USER_CHANNEL + peer.user:
                peer.send(self.subscribed(channel))
            else:
                peer.send(self.refused(channel, "forbidden", "sign in as that user first"))
            return
        if not validation.is_valid_channel(channel):
            peer.send(self.refused(channel[:200], "forbidden", "invalid channel name"))
            return
        if not validation.needs_authorization(channel):
            await hub.subscribe(peer, channel)
            return
        auth = data.get("auth") or ""
        presence = validation.is_presence_channel(channel)
        channel_data = data.get("channel_data") if presence else None
        if not auth:
            if peer.user is None:
                peer.send(self.refused(channel, "forbidden", f"{channel} needs an auth signature"))
            else:
                await hub.subscribe(peer, channel)  # onAuthorize decides, in process
            return
        if not isinstance(auth, str) or (channel_data is not None and not isinstance(channel_data, str)) \
                or not self._signed(auth, f"{peer.id}:{channel}" + (f":{channel_data}" if presence else "")):
            peer.send(self.refused(channel, "forbidden", f"invalid signature for {channel}"))
            return
        member, info = None, ""
        if presence:
            try:
                document = _document(channel_data)
                member = validation.user_id(_user_id(document, "user_id"))
            except ValueError as exc:
                peer.send(self.refused(channel, "forbidden", f"channel_data: {exc}"))
                return
            user_info = document.get("user_info")
            info = json.dumps(user_info, separators=(",", ":")) if user_info is not None else ""
        await hub.subscribe(peer, channel, authorized=True, member=member, info=info)

    async def _client_event(self, peer: Any, hub: Any, event: str, data: dict[str, Any]) -> None:
        """A client event: to the channel's other subscribers, on every node (client_events = members)."""
        if not self._client_events:
            peer.send(error(ERROR_CLIENT_EVENT, "client events are not enabled on this server"))
            return
        channel = data.get("channel")
        if not isinstance(channel, str) or channel not in peer.channels or not validation.needs_authorization(channel):
            peer.send(error(ERROR_CLIENT_EVENT, "client events go to a private or presence channel you are in"))
            return
        if not self._spend(peer, peer.connection.loop.time()):
            peer.send(error(ERROR_CLIENT_EVENT, f"over {CLIENT_EVENT_RATE:g} client events per second"))
            return
        try:
            name = validation.event_name(event)
            payload = validation.message(json.dumps(data.get("data")), self._max)  # ASCII: escapes travel as sent
        except ValueError as exc:
            peer.send(error(ERROR_CLIENT_EVENT, str(exc)))
            return
        sender = peer.identities.get(channel, peer.user) if validation.is_presence_channel(channel) else ""
        await hub.publish(Event(MESSAGE, channel, payload, name, peer.id, sender or ""))

    @staticmethod
    def _spend(peer: Any, now: float) -> bool:
        """One token of the connection's client-event bucket (CLIENT_EVENT_RATE a second, as many at once)."""
        tokens, last = peer.dialect_state or (CLIENT_EVENT_RATE, now)
        tokens = min(CLIENT_EVENT_RATE, tokens + (now - last) * CLIENT_EVENT_RATE)
        peer.dialect_state = (tokens - 1, now)
        return tokens >= 1

    def _signin(self, peer: Any, hub: Any, data: dict[str, Any]) -> None:
        auth, user_data = data.get("auth"), data.get("user_data")
        if not isinstance(auth, str) or not isinstance(user_data, str) \
                or not self._signed(auth, f"{peer.id}::user::{user_data}"):
            peer.send(error(CLOSE_UNAUTHORIZED, "invalid signature for pusher:signin"))
            return
        try:
            user = validation.user_id(_user_id(_document(user_data), "id"))
        except ValueError as exc:
            peer.send(error(CLOSE_UNAUTHORIZED, f"user_data: {exc}"))
            return
        hub.identify(peer, user)
        peer.send(_internal("pusher:signin_success", {"user_data": user_data}))

    def _signed(self, auth: str, text: str) -> bool:
        key, sep, signature = auth.partition(":")
        # "surrogatepass": JSON can carry a lone surrogate ("\ud800"), which no signer signed;
        # it must be a mismatch, not an exception (that closed the connection with 1011).
        expected = hmac.new(self._secret, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        # Both compared in constant time; neither the secret nor the expected value is ever logged.
        return bool(sep) & hmac.compare_digest(key.encode("utf-8", "surrogatepass"), self.key.encode()) \
            & hmac.compare_digest(signature.encode("utf-8", "surrogatepass"), expected.encode())


def _parse(raw: str | bytes) -> tuple[str, dict[str, Any]]:
    if isinstance(raw, bytes):
        raise ValueError("binary frames are not supported")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError("frame is not valid JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("event"), str):
        raise ValueError("frame must be a JSON object with an event")
    event, data = body["event"], body.get("data")
    if event.startswith("client-"):  # data is the client's own, any JSON
        return event, {"channel": body.get("channel"), "data": data}
    if isinstance(data, str):  # older clients send data as a JSON string
        try:
            data = json.loads(data) if data else {}
        except (ValueError, RecursionError):
            raise ValueError("data is not valid JSON") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError("data must be a JSON object")
    return event, data


def _info(text: str) -> Any:
    return json.loads(text) if text else None


def _document(text: str | None) -> dict[str, Any]:
    """A signed JSON document (channel_data or user_data) as an object; ValueError otherwise."""
    try:
        parsed = json.loads(text or "")
    except (ValueError, RecursionError):
        raise ValueError("not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ValueError("not a JSON object")
    return parsed


def _user_id(document: dict[str, Any], field: str) -> Any:
    """The user id in a signed document; str or int."""
    value = document.get(field)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{field} must be a string or an int")
    return value
