"""The native dialect: JSON text frames on ``/ws`` (the README's wire protocol)."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from .. import validation
from . import Dialect, json_frame as frame

ACTIONS = ("subscribe", "unsubscribe")
CLOSE_DISCONNECTED = 4001


class ProtocolError(Exception):
    """A bad client frame: answered with an ``error`` event, the connection stays open."""

    def __init__(self, code: str, message: str, channel: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.channel = channel


class Action(NamedTuple):
    action: str
    channel: str
    since: tuple[str, int] | None = None  # (epoch, offset): recover what came after


MAX_EPOCH = 64  # characters; epochs the hub makes are 16


def parse(frame: str | bytes) -> Action:
    if isinstance(frame, bytes):
        raise ProtocolError("bad_frame", "binary frames are not supported; send JSON text")
    try:
        body = json.loads(frame)
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        raise ProtocolError("bad_json", "frame is not valid JSON (or nested too deep)") from None
    if not isinstance(body, dict):
        raise ProtocolError("bad_frame", "frame must be a JSON object")
    action = body.get("action")
    if action not in ACTIONS:
        raise ProtocolError("unknown_action", f"unknown action {str(action)[:40]!r}; use subscribe or unsubscribe")
    channel = body.get("channel")
    if not isinstance(channel, str) or not validation.is_valid_channel(channel):
        shown = channel[:60] if isinstance(channel, str) else None
        raise ProtocolError("bad_channel", "channel must be 1-200 characters of A-Z a-z 0-9 _ - = @ , . ; :", shown)
    since = body.get("since")
    if since is None or action != "subscribe":
        return Action(action, channel)
    epoch = since.get("epoch") if isinstance(since, dict) else None
    offset = since.get("offset") if isinstance(since, dict) else None
    if not isinstance(epoch, str) or len(epoch) > MAX_EPOCH or isinstance(offset, bool) \
            or not isinstance(offset, int) or not 0 <= offset < 1 << 63:
        raise ProtocolError("bad_frame", 'since must be {"epoch": "<epoch>", "offset": <integer >= 0>}', channel)
    return Action(action, channel, (epoch, offset))


def error(code: str, message: str, channel: str | None = None) -> bytes:
    event: dict[str, Any] = {"event": "error", "code": code, "message": message}
    if channel is not None:
        event["channel"] = channel
    return frame(event)


class NativeDialect(Dialect):
    """Contract in :class:`pybroadcast.dialects.Dialect`."""

    path = "/ws"
    disconnect_code = CLOSE_DISCONNECTED

    def connected(self, user: str, connection_id: str) -> bytes:
        return frame({"event": "connected", "user": user, "connection": connection_id})

    def subscribed(self, channel: str, members: dict[str, str] | None = None,
                   position: tuple[str, int, bool | None] | None = None) -> bytes:
        if position is None:
            return frame({"event": "subscribed", "channel": channel})
        epoch, top, recovered = position
        event: dict[str, Any] = {"event": "subscribed", "channel": channel}
        if epoch:
            event["epoch"], event["offset"] = epoch, top
        if recovered is not None:
            event["recovered"] = recovered
        return frame(event)

    def unsubscribed(self, channel: str) -> bytes:
        return frame({"event": "unsubscribed", "channel": channel})

    def refused(self, channel: str, code: str, message: str) -> bytes:
        return error(code, message, channel)

    def message(self, channel: str, data: str, name: str = "", user: str = "", offset: int = 0,
                epoch: str = "") -> bytes:
        event: dict[str, Any] = {"event": "message", "channel": channel}
        if offset:
            event["offset"] = offset
        if epoch:
            event["epoch"] = epoch
        if name:
            event["name"] = name
        if user:  # a Pusher client's client event, heard by native subscribers too
            event["user"] = user
        event["data"] = data
        return frame(event)

    def direct(self, user: str, data: str, name: str = "") -> bytes:
        if name:
            return frame({"event": "direct", "name": name, "data": data})
        return frame({"event": "direct", "data": data})

    def presence(self, kind: str, channel: str, user: str, info: str = "") -> bytes:
        return frame({"event": kind, "channel": channel, "user": user})

    async def receive(self, peer: Any, message: str | bytes, hub: Any) -> None:
        try:
            action = parse(message)
        except ProtocolError as exc:
            peer.send(error(exc.code, str(exc), exc.channel))
            return
        if action.action == "subscribe":
            await hub.subscribe(peer, action.channel, since=action.since)
        else:
            await hub.unsubscribe(peer, action.channel)
