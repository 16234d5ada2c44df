"""Keepalive for every connection of a hub, on one timer.

websockets' own keepalive is a task per connection (~1.4 KiB each, measured, and a timer each).
This pings every open connection every ``interval`` seconds and closes (1011) one whose previous
ping got no pong by the next round: websockets' rule with ``ping_timeout = ping_interval`` on one
timer, and no task or future per ping (the connection keeps one flag, ``awaiting_pong``). Only
admitted connections (peers) are pinged: a connection is admitted right after its handshake.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from websockets.frames import CloseCode

log = logging.getLogger("pybroadcast")

SLICE = 200


class Keepalive:
    def __init__(self, loop: asyncio.AbstractEventLoop, peers: Mapping[str, Any], interval: float) -> None:
        self._loop = loop
        self._peers = peers
        self._interval = interval
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._timer = self._loop.call_later(self._interval, self._round)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _round(self) -> None:
        self._timer = self._loop.call_later(self._interval, self._round)
        self._slice(list(self._peers.values()), 0)

    def _slice(self, peers: list[Any], start: int) -> None:
        """SLICE peers per loop turn: a round over 19,000 connections in one go would hold up
        deliveries for a fraction of a second."""
        if start + SLICE < len(peers):
            self._loop.call_soon(self._slice, peers, start + SLICE)
        for peer in peers[start:start + SLICE]:
            if self._peers.get(peer.id) is not peer:  # gone since the round began
                continue
            connection = peer.connection
            if connection.awaiting_pong:  # the last round's ping is still unanswered
                log.info("closing connection=%s user=%s: no pong within %g s", peer.id, peer.user, self._interval)
                peer.close(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
            else:
                connection.ping()
