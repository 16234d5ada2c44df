"""The Dialect interface: one wire protocol spoken to WebSocket clients.

The hub core never builds a frame itself: it asks the dialect of each peer.
The endpoint picks the dialect by the WebSocket path. Dialects:
:mod:`pybroadcast.dialects.native` (JSON on ``/ws``, the README's wire protocol).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from websockets.frames import Frame, Opcode


def text_frame(payload: bytes) -> bytes:
    """A complete, unmasked server text frame, encoded once and written to many clients."""
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


class Dialect(ABC):
    """Contract, for every dialect:

    * ``path`` is the WebSocket path it serves; ``disconnect_code`` the close code
      of ``disconnectUser()``.
    * Each encoder returns one complete server frame (bytes). The hub calls it
      once per event and writes the result to every peer of this dialect, so it
      must not depend on the peer. Text that cannot be UTF-8 (a lone surrogate a
      client sent) must not make it fail.
    * ``refused(channel, code, message)``: a subscription is refused; ``code`` is
      ``forbidden`` (authorization) or ``too_many_channels`` (the cap).
    * ``serve(peer, connection, hub)`` reads one connection's frames until it
      closes and turns them into ``hub.subscribe``/``hub.unsubscribe`` calls,
      answering bad frames itself; it never closes the connection with 1011.
    """

    path: str
    disconnect_code: int

    @abstractmethod
    def connected(self, user: str, connection_id: str) -> bytes: ...

    @abstractmethod
    def subscribed(self, channel: str) -> bytes: ...

    @abstractmethod
    def unsubscribed(self, channel: str) -> bytes: ...

    @abstractmethod
    def refused(self, channel: str, code: str, message: str) -> bytes: ...

    @abstractmethod
    def message(self, channel: str, data: str, name: str) -> bytes:
        """``name``: the application's event name, "" when none was given."""

    @abstractmethod
    def direct(self, data: str, name: str) -> bytes: ...

    @abstractmethod
    def presence(self, kind: str, channel: str, user: str) -> bytes: ...

    @abstractmethod
    async def serve(self, peer: Any, connection: Any, hub: Any) -> None: ...
