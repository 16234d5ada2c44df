"""The hub's decisions: authorization, presence transitions, hooks, and turning events into frames.

State lives in the :class:`~pybroadcast.registry.Registry`; frames come from each
peer's dialect (:mod:`pybroadcast.dialects`), so this module knows no wire format.
Everything here runs on the hub's loop thread.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from . import hooks, php_values, validation
from .callbacks import CallbackBridge, CallbackError
from .drivers.broker import Broker
from .drivers.history import History, Page
from .drivers.presence import Presence
from .errors import BroadcastError
from .events import DIRECT, DISCONNECT, JOIN, LEAVE, MESSAGE, Event
from .peer import Peer
from .registry import Registry

log = logging.getLogger("pybroadcast")


class _Hold:
    """A subscriber whose live messages wait while its history is read (see Hub.subscribe)."""

    __slots__ = ("events", "epoch", "top")

    def __init__(self) -> None:
        self.events: list[Event] = []  # live messages that arrived while reading
        self.epoch = ""
        self.top: int | None = None  # set once read: what the subscriber has had


class Hub:
    def __init__(self, broker: Broker, presence: Presence, bridge: CallbackBridge, max_channels: int = 128,
                 history: History | None = None, history_size: int = 0, outbox: Any = None) -> None:
        """`outbox`: queues a frame for many peers at once (peer.Outbox); without one, each peer's send()."""
        self.broker = broker
        self.presence = presence
        self.bridge = bridge
        self.max_channels = max_channels  # per connection
        self.history = history
        self.history_size = history_size
        self.registry = Registry()
        self._listening: dict[str, asyncio.Task[None]] = {}
        self._held: dict[str, dict[Peer, _Hold]] = {}  # channel -> subscribers being positioned
        self._newest: dict[str, Event] = {}  # channel -> the newest message delivered here (with history)
        self._send_all = outbox.send_all if outbox is not None else _send_each

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
                        info: str = "", since: tuple[str, int] | None = None) -> None:
        """`authorized`: the dialect checked the right to a private channel itself (a signature);
        `member`: who the connection is in this channel's presence, if not its user;
        `info`: the member's user_info (JSON), if the dialect got one;
        `since`: (epoch, offset) the client last had, to recover what it missed."""
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
        if peer.closed or channel not in peer.channels:
            return
        # With history: from here live messages wait in a hold while the history is
        # read, so that the subscriber gets exactly what follows its position.
        hold = self._hold(peer, channel) if self.history is not None else None
        try:
            # Acknowledged once present: after "subscribed", getChannelUsers() lists this user.
            identity = member if member is not None else peer.user
            joined = identity is not None and await self.presence.join(channel, identity, peer.id, info)
            members = None
            if dialect.presence_members and validation.is_presence_channel(channel):
                members = await self.presence.members_info(channel)
            page = await self._read_position(peer, channel, since) if hold is not None else None
            if peer.closed or channel not in peer.channels:
                pass  # gone meanwhile: nothing to acknowledge (its leave pairs with the join below)
            elif page is None:
                peer.send(dialect.subscribed(channel, members, None if since is None else ("", 0, False)))
                if hold is not None:
                    self._release(peer, channel, hold)
            else:
                self._send_position(peer, channel, page, since, members, hold)
        finally:
            if hold is not None and hold.top is None:
                self._drop_hold(peer, channel, hold)
        if joined:
            await self._transition(JOIN, channel, identity, info)

    # --- history ----------------------------------------------------------

    def _hold(self, peer: Peer, channel: str) -> _Hold:
        hold = self._held.setdefault(channel, {})[peer] = _Hold()
        return hold

    def _drop_hold(self, peer: Peer, channel: str, hold: _Hold | None = None) -> None:
        """Ends `peer`'s hold on `channel` (only if it is `hold`, when given)."""
        holds = self._held.get(channel)
        if holds is not None and (hold is None or holds.get(peer) is hold):
            del holds[peer]
            if not holds:
                del self._held[channel]

    async def _read_position(self, peer: Peer, channel: str, since: tuple[str, int] | None) -> Page | None:
        """The channel's position, with the messages after `since` (or the newest one, for a
        dialect that replays it); None when history cannot be read (its backend is away)."""
        assert self.history is not None
        if since is not None:
            after, limit = since[1], self.history_size
        else:
            after, limit = None, 1 if peer.dialect.replays_last(channel) else 0
        try:
            return await self.history.read(channel, after, limit)
        except BroadcastError as exc:
            log.warning("history of %s unavailable, subscribed without a position: %s", channel, exc)
            return None

    def _send_position(self, peer: Peer, channel: str, page: Page, since: tuple[str, int] | None,
                       members: dict[str, str] | None, hold: _Hold) -> None:
        """`subscribed` with the position, what the client missed (or the newest message), then
        the held live messages after the position: all in one loop turn, so nothing slips between."""
        dialect = peer.dialect
        replays_last = since is None and dialect.replays_last(channel)
        replay: tuple[Event, ...] = ()
        recovered = None
        if since is not None:
            missed = page.since(*since)
            recovered = missed is not None
            replay = missed or ()
        elif replays_last:
            replay = page.events
        peer.send(dialect.subscribed(channel, members, (page.epoch, page.top, recovered)))
        for event in replay:
            _send_recorded(peer, event)
        if replays_last and not replay:
            peer.send(dialect.nothing_to_replay(channel))
        hold.epoch, hold.top = page.epoch, page.top
        self._release(peer, channel, hold)

    def _release(self, peer: Peer, channel: str, hold: _Hold) -> None:
        """Sends the held messages the client has not had. The hold ends now if this node has
        delivered the position's message already; if not (Redis: it may still be on its way
        from another node), at the first message at or after it."""
        events, hold.events = hold.events, []
        newest = self._newest.get(channel)
        caught_up = not hold.top or (newest is not None and newest.epoch == hold.epoch and newest.offset >= hold.top)
        if newest is not None and newest.epoch != hold.epoch:
            del self._newest[channel]  # this subscriber knows another epoch: announce the next message's
        for event in events:
            caught_up = self._pass_hold(peer, hold, event) or caught_up
        if caught_up:
            self._drop_hold(peer, channel, hold)

    def _pass_hold(self, peer: Peer, hold: _Hold, event: Event) -> bool:
        """Delivers `event` to a held subscriber if it is new to it; True once the hold can end."""
        top = hold.top
        if top is not None and event.offset and event.epoch == hold.epoch and event.offset <= top:
            return event.offset == top  # had it already (in the history it was given)
        _send_recorded(peer, event, event.epoch if event.epoch != hold.epoch else "")
        return True

    async def history_page(self, channel: str, limit: int) -> Page | None:
        """getChannelHistory(): the newest `limit` messages and the position; None when history is off."""
        if self.history is None:
            return None
        return await self.history.read(channel, None, limit)

    async def unsubscribe(self, peer: Peer, channel: str) -> None:
        if channel in peer.channels:
            await self._leave(peer, channel)
        frame = peer.dialect.unsubscribed(channel)
        if frame:
            peer.send(frame)

    async def _leave(self, peer: Peer, channel: str) -> None:
        if self._held:
            self._drop_hold(peer, channel)
        if self.registry.remove(peer, channel):
            self._listening.pop(channel, None)
            self._newest.pop(channel, None)
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
        kind, target, data, name, exclude, sender, offset, epoch = event
        if kind == MESSAGE:
            groups = self.registry.channels.get(target)
            if groups:
                if offset:
                    newest = self._newest.get(target)
                    if newest is not None and newest[7] == epoch:
                        epoch = ""  # every subscriber here knows it: only a new epoch is announced
                    self._newest[target] = event
                held = self._held.get(target) if self._held else None
                for dialect, peers in groups.items():
                    frame = dialect.message(target, data, name, sender, offset, epoch)
                    if exclude or held:  # toOthers(): every subscriber but the publisher's own connection
                        for peer in peers:
                            if peer.id != exclude and (held is None or peer not in held):
                                peer.send(frame)
                    else:
                        self._send_all(self.registry.snapshot(target, dialect, peers), frame)
                if held:
                    self._deliver_held(event, held)
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

    def _deliver_held(self, event: Event, held: dict[Peer, _Hold]) -> None:
        """`event` to the subscribers of its channel that are being positioned (see subscribe)."""
        done = []
        for peer, hold in held.items():
            if hold.top is None:
                hold.events.append(event)
            elif self._pass_hold(peer, hold, event):
                done.append(peer)
        for peer in done:
            self._drop_hold(peer, event.target, held[peer])


def _send_recorded(peer: Peer, event: Event, announce: str = "") -> None:
    """A message from history or a hold, to one subscriber (not to the connection that sent it)."""
    if event.exclude != peer.id:
        peer.send(peer.dialect.message(event.target, event.data, event.name, event.user, event.offset, announce))


def _send_each(peers: Any, frame: bytes) -> None:
    for peer in peers:
        peer.send(frame)
