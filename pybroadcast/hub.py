"""The hub's decisions: authorization, presence transitions, hooks, and turning events into frames.

State lives in the :class:`~pybroadcast.registry.Registry`; frames come from each
peer's dialect (:mod:`pybroadcast.dialects`), so this module knows no wire format.
Everything here runs on the hub's loop thread.
"""

from __future__ import annotations

import asyncio
import logging

from . import hooks, php_values, validation
from .callbacks import CallbackBridge, CallbackError
from .drivers.broker import Broker
from .drivers.presence import Presence
from .errors import BroadcastError
from .events import DIRECT, DISCONNECT, JOIN, LEAVE, MESSAGE, Event
from .peer import Peer
from .registry import Registry

log = logging.getLogger("pybroadcast")


class Hub:
    def __init__(self, broker: Broker, presence: Presence, bridge: CallbackBridge, max_channels: int = 128) -> None:
        self.broker = broker
        self.presence = presence
        self.bridge = bridge
        self.max_channels = max_channels  # per connection
        self.registry = Registry()
        self._listening: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        await self.broker.start(self.deliver)
        await self.presence.start(self._transition)

    # --- peers ------------------------------------------------------------

    def attach(self, peer: Peer) -> None:
        self.registry.add_peer(peer)
        peer.send(peer.dialect.connected(peer.user, peer.id))

    async def detach(self, peer: Peer) -> None:
        """The connection is gone (any reason): leave every channel it was in."""
        peer.closed = True
        for channel in list(peer.channels):
            await self._leave(peer, channel)
        self.registry.remove_peer(peer)

    def identify(self, peer: Peer, user: str) -> None:
        """A dialect learned who the connection is after the handshake (Pusher's signin).

        Channels it is already in keep the identity they were joined with, so
        that their leave is the same member's."""
        if peer.user is not None:
            for channel in peer.channels:
                peer.identities.setdefault(channel, peer.user)
        self.registry.identify(peer, user)
        log.info("identified user=%s connection=%s", user, peer.id)

    async def subscribe(self, peer: Peer, channel: str, authorized: bool = False, member: str | None = None,
                        info: str = "") -> None:
        """`authorized`: the dialect checked the right to a private channel itself (a signature);
        `member`: who the connection is in this channel's presence, if not its user;
        `info`: the member's user_info (JSON), if the dialect got one."""
        dialect = peer.dialect
        if channel in peer.channels:
            peer.send(dialect.subscribed(channel))
            return
        if len(peer.channels) >= self.max_channels:
            peer.send(dialect.refused(channel, "too_many_channels",
                                      f"a connection may be in at most {self.max_channels} channels"))
            return
        if not authorized and validation.needs_authorization(channel):
            allowed, given = await self._authorized(peer, channel)
            if not allowed:
                if not peer.closed:
                    peer.send(dialect.refused(channel, "forbidden", f"not authorized for {channel}"))
                return
            info = info or given
        if peer.closed:  # disconnected while the authorizer ran
            return
        # In the channel at once (so nothing can tear the channel down under
        # this peer); acknowledged once the broker listens.
        if self.registry.add(peer, channel):
            self._listening[channel] = asyncio.ensure_future(self.broker.listen(channel))
        if member is not None and member != peer.user:
            peer.identities[channel] = member
        listening = self._listening.get(channel)
        if listening is not None and not listening.done():
            await asyncio.shield(listening)
        if peer.closed:
            return
        # Acknowledged once present: after "subscribed", getChannelUsers() lists this user.
        identity = member if member is not None else peer.user
        joined = identity is not None and await self.presence.join(channel, identity, peer.id, info)
        if dialect.presence_members and validation.is_presence_channel(channel):
            peer.send(dialect.subscribed(channel, await self.presence.members_info(channel)))
        else:
            peer.send(dialect.subscribed(channel))
        if joined:
            await self._transition(JOIN, channel, identity, info)

    async def unsubscribe(self, peer: Peer, channel: str) -> None:
        if channel in peer.channels:
            await self._leave(peer, channel)
        frame = peer.dialect.unsubscribed(channel)
        if frame:
            peer.send(frame)

    async def _leave(self, peer: Peer, channel: str) -> None:
        if self.registry.remove(peer, channel):
            self._listening.pop(channel, None)
            await self.broker.unlisten(channel)
        identity = peer.identities.pop(channel, peer.user)
        if identity is not None and await self.presence.leave(channel, identity, peer.id):
            await self._transition(LEAVE, channel, identity)

    async def _authorized(self, peer: Peer, channel: str) -> tuple[bool, str]:
        """(allowed, user_info JSON from an array answer)."""
        if peer.user is None or not self.bridge.has(hooks.AUTHORIZE):
            return False, ""
        try:
            result = await self.bridge.call(hooks.AUTHORIZE, peer.user, channel)
        except CallbackError:
            return False, ""
        return php_values.allows(result, channel), php_values.user_info(result)

    async def _transition(self, kind: str, channel: str, user: str, info: str = "") -> None:
        """A user started or stopped being present: run the hook, tell the other members."""
        hook = hooks.JOIN if kind == JOIN else hooks.LEAVE
        if self.bridge.has(hook):
            self.bridge.notify(hook, user, channel)
        log.info("%s user=%s channel=%s", hook, user, channel)
        if validation.is_presence_channel(channel):
            try:
                await self.publish(Event(kind, channel, user, info))
            except BroadcastError as exc:
                log.warning("could not tell %s members that %s %s: %s", channel, user, hook, exc)

    # --- events -----------------------------------------------------------

    async def publish(self, event: Event) -> None:
        await self.broker.publish(event)

    async def members(self, channel: str) -> list[str]:
        return await self.presence.members(channel)

    async def occupied_channels(self) -> set[str]:
        """Channels with a subscriber here, or a present user on any node."""
        return set(self.registry.channels) | set(await self.presence.channels())

    def deliver(self, event: Event) -> None:
        """Broker sink: one frame per dialect, queued for every local recipient."""
        kind, target, data, name, exclude, sender = event
        if kind == MESSAGE:
            groups = self.registry.channels.get(target)
            if groups:
                for dialect, peers in groups.items():
                    frame = dialect.message(target, data, name, sender)
                    if exclude:  # toOthers(): every subscriber but the publisher's own connection
                        for peer in peers:
                            if peer.id != exclude:
                                peer.send(frame)
                    else:
                        for peer in peers:
                            peer.send(frame)
        elif kind == DIRECT:
            mine = self.registry.users.get(target)
            if mine:
                frames: dict[object, bytes] = {}
                for peer in mine:
                    frame = frames.get(peer.dialect)
                    if frame is None:
                        frame = frames[peer.dialect] = peer.dialect.direct(target, data, name)
                    peer.send(frame)
        elif kind == DISCONNECT:
            for peer in list(self.registry.users.get(target, ())):
                peer.close(peer.dialect.disconnect_code, "disconnected by the application")
        elif kind in (JOIN, LEAVE):
            groups = self.registry.channels.get(target)
            if groups:
                for dialect, peers in groups.items():
                    frame = dialect.presence(kind, target, data, name)
                    for peer in peers:
                        if peer.identities.get(target, peer.user) != data:  # not to the member itself
                            peer.send(frame)
