"""Channels, users and presence on one node; events in from the broker, frames out to peers.

Everything here runs on the hub's loop thread.
"""

from __future__ import annotations

import asyncio
import logging

from . import hooks, php_values, protocol, validation
from .drivers.broker import Broker
from .callbacks import CallbackBridge, CallbackError
from .errors import BroadcastError
from .events import DIRECT, DISCONNECT, JOIN, LEAVE, MESSAGE, Event
from .peer import Peer
from .drivers.presence import Presence

log = logging.getLogger("pybroadcast")

CLOSE_DISCONNECTED = 4001


class Hub:
    def __init__(self, broker: Broker, presence: Presence, bridge: CallbackBridge, max_channels: int = 128) -> None:
        self.max_channels = max_channels  # per connection
        self.broker = broker
        self.presence = presence
        self.bridge = bridge
        self.peers: dict[str, Peer] = {}
        self.users: dict[str, set[Peer]] = {}
        self.channels: dict[str, set[Peer]] = {}
        self._listening: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        await self.broker.start(self.deliver)
        await self.presence.start(self._transition)

    # --- peers ------------------------------------------------------------

    def attach(self, peer: Peer) -> None:
        self.peers[peer.id] = peer
        self.users.setdefault(peer.user, set()).add(peer)
        peer.send(protocol.connected(peer.user, peer.id))

    async def detach(self, peer: Peer) -> None:
        """The connection is gone (any reason): leave every channel it was in."""
        peer.closed = True
        for channel in list(peer.channels):
            await self._leave(peer, channel)
        self.peers.pop(peer.id, None)
        mine = self.users.get(peer.user)
        if mine is not None:
            mine.discard(peer)
            if not mine:
                del self.users[peer.user]

    async def subscribe(self, peer: Peer, channel: str) -> None:
        if channel in peer.channels:
            peer.send(protocol.subscribed(channel))
            return
        if len(peer.channels) >= self.max_channels:
            peer.send(protocol.error("too_many_channels",
                                     f"a connection may be in at most {self.max_channels} channels", channel))
            return
        if validation.needs_authorization(channel) and not await self._authorized(peer, channel):
            if not peer.closed:
                peer.send(protocol.error("forbidden", f"not authorized for {channel}", channel))
            return
        if peer.closed:  # disconnected while the authorizer ran
            return
        # In the channel's set at once (so nothing can tear the channel down
        # under this peer); acknowledged once the broker listens.
        peer.channels.add(channel)
        subscribers = self.channels.get(channel)
        if subscribers is None:
            subscribers = self.channels[channel] = set()
            self._listening[channel] = asyncio.ensure_future(self.broker.listen(channel))
        subscribers.add(peer)
        listening = self._listening.get(channel)
        if listening is not None and not listening.done():
            await asyncio.shield(listening)
        if peer.closed:
            return
        peer.send(protocol.subscribed(channel))
        if await self.presence.join(channel, peer.user, peer.id):
            await self._transition(JOIN, channel, peer.user)

    async def unsubscribe(self, peer: Peer, channel: str) -> None:
        if channel in peer.channels:
            await self._leave(peer, channel)
        peer.send(protocol.unsubscribed(channel))

    async def _leave(self, peer: Peer, channel: str) -> None:
        peer.channels.discard(channel)
        subscribers = self.channels.get(channel)
        if subscribers is not None:
            subscribers.discard(peer)
            if not subscribers:
                del self.channels[channel]
                self._listening.pop(channel, None)
                await self.broker.unlisten(channel)
        if await self.presence.leave(channel, peer.user, peer.id):
            await self._transition(LEAVE, channel, peer.user)

    async def _authorized(self, peer: Peer, channel: str) -> bool:
        if not self.bridge.has(hooks.AUTHORIZE):
            return False
        try:
            return php_values.allows(await self.bridge.call(hooks.AUTHORIZE, peer.user, channel), channel)
        except CallbackError:
            return False

    async def _transition(self, kind: str, channel: str, user: str) -> None:
        """A user started or stopped being present: run the hook, tell the other members."""
        hook = hooks.JOIN if kind == JOIN else hooks.LEAVE
        if self.bridge.has(hook):
            self.bridge.notify(hook, user, channel)
        log.info("%s user=%s channel=%s", hook, user, channel)
        if validation.is_presence_channel(channel):
            try:
                await self.publish(Event(kind, channel, user))
            except BroadcastError as exc:
                log.warning("could not tell %s members that %s %s: %s", channel, user, hook, exc)

    # --- events -----------------------------------------------------------

    async def publish(self, event: Event) -> None:
        await self.broker.publish(event)

    async def members(self, channel: str) -> list[str]:
        return await self.presence.members(channel)

    def deliver(self, event: Event) -> None:
        """Broker sink: turn one event into one frame and queue it for every local recipient."""
        kind, target, data = event
        if kind == MESSAGE:
            subscribers = self.channels.get(target)
            if subscribers:
                frame = protocol.message(target, data)
                for peer in subscribers:
                    peer.send(frame)
        elif kind == DIRECT:
            mine = self.users.get(target)
            if mine:
                frame = protocol.direct(data)
                for peer in mine:
                    peer.send(frame)
        elif kind == DISCONNECT:
            for peer in list(self.users.get(target, ())):
                peer.close(CLOSE_DISCONNECTED, "disconnected by the application")
        elif kind in (JOIN, LEAVE):
            subscribers = self.channels.get(target)
            if subscribers:
                frame = protocol.presence(kind, target, data)
                for peer in subscribers:
                    if peer.user != data:
                        peer.send(frame)
