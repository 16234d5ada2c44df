"""The Dialect interface: one wire protocol spoken to WebSocket clients.

The hub core never builds a frame itself: it asks the dialect of each peer.
The endpoint picks the dialect by the WebSocket path. Dialects:
:mod:`pybroadcast.dialects.native` (JSON on ``/ws``, the README's wire protocol).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from websockets.frames import Frame, Opcode

from .. import compact_json


def text_frame(payload: bytes) -> bytes:
    """A complete, unmasked server text frame, encoded once and written to many clients."""
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


def json_text(event: dict[str, Any]) -> bytes:
    """An event as compact UTF-8 JSON. "replace": a lone surrogate from a client's JSON
    ("\ud800") cannot be UTF-8; echoing it must not fail the connection (it closed with 1011)."""
    return compact_json.dumps(event).encode("utf-8", "replace")


def json_frame(event: dict[str, Any]) -> bytes:
    """An event as a complete server text frame (see ``text_frame``)."""
    return text_frame(json_text(event))


class Dialect(ABC):
    """Contract, for every dialect:

    * ``path`` is the WebSocket path it serves (a prefix when ``prefix``);
      ``anonymous``: a connection nobody identified is served (user None) rather
      than refused with 401; ``disconnect_code`` is the close code of ``disconnectUser()``,
      ``shutdown_code`` the one of a hub shutting down (clients reconnect elsewhere).
    * ``admit(connection)`` runs after the upgrade, before anything else is sent;
      False means the dialect answered and closed the connection itself.
    * ``presence_members``: ``subscribed`` of a presence channel gets its members
      (user -> user_info JSON, "" for none).
    * Each encoder returns one complete server frame (bytes). The hub calls it
      once per event and writes the result to every peer of this dialect, so it
      must not depend on the peer. Text that cannot be UTF-8 (a lone surrogate a
      client sent) must not make it fail.
    * ``refused(channel, code, message)``: a subscription is refused; ``code`` is
      ``forbidden`` (authorization) or ``too_many_channels`` (the cap).
    * ``receive(peer, message, hub)`` turns one message of a connection (str for a
      text frame, bytes for binary) into ``hub.subscribe``/``hub.unsubscribe`` calls,
      answering bad frames itself; it is awaited before the connection's next
      message, and never closes the connection with 1011.
    """

    path: str
    prefix = False
    anonymous = False
    presence_members = False
    disconnect_code: int
    shutdown_code = 1001

    def admit(self, connection: Any) -> bool:
        return True

    def replays_last(self, channel: str) -> bool:
        """A subscriber of `channel` gets the newest kept message right after ``subscribed``
        (Pusher's cache channels), or ``nothing_to_replay(channel)`` when there is none."""
        return False

    def nothing_to_replay(self, channel: str) -> bytes:
        return b""

    @abstractmethod
    def connected(self, user: str | None, connection_id: str) -> bytes: ...

    @abstractmethod
    def subscribed(self, channel: str, members: dict[str, str] | None = None,
                   position: tuple[str, int, bool | None] | None = None) -> bytes:
        """``position``: (epoch, top offset, recovered) when history is on; recovered is None
        unless the client asked to recover (epoch "" when history could not be read)."""

    @abstractmethod
    def unsubscribed(self, channel: str) -> bytes: ...

    @abstractmethod
    def refused(self, channel: str, code: str, message: str) -> bytes: ...

    @abstractmethod
    def message(self, channel: str, data: str, name: str, user: str, offset: int = 0, epoch: str = "") -> bytes:
        """``name``: the application's event name, "" when none was given; ``user``:
        the member who sent a client event on a presence channel, else ""; ``offset``:
        its place in the channel's history, 0 when history is off; ``epoch``: given
        when the subscribers may not know the message's epoch yet (a new one began)."""

    @abstractmethod
    def direct(self, user: str, data: str, name: str) -> bytes:
        """To every connection of ``user``."""

    @abstractmethod
    def presence(self, kind: str, channel: str, user: str, info: str) -> bytes:
        """``info``: the member's user_info (JSON) on a join, "" when unknown."""

    @abstractmethod
    async def receive(self, peer: Any, message: str | bytes, hub: Any) -> None: ...
