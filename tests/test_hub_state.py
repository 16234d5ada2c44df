"""The hub's state machine in process (no PHP, no sockets): presence transitions, hooks, races.

The real Hub, Registry, memory broker and presence, and the real CallbackBridge;
the test plays the PHP thread (it takes the queued calls and answers them).
Peers record the frames the hub queues for them, decoded by the native dialect.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest

from pybroadcast.callbacks import CallbackBridge
from pybroadcast.dialects.native import NativeDialect
from pybroadcast.drivers.memory.broker import MemoryBroker
from pybroadcast.drivers.memory.presence import MemoryPresence
from pybroadcast.events import DISCONNECT, Event
from pybroadcast.hub import Hub

DIALECT = NativeDialect()
ROOM = "presence-room"


class RecordingPeer:
    """A connection as the hub sees it, recording what the hub sends it."""

    def __init__(self, peer_id: str, user: str) -> None:
        self.id, self.user, self.dialect = peer_id, user, DIALECT
        self.channels: set[str] = set()
        self.identities: dict[str, str] = {}
        self.closed = False
        self.close_code: int | None = None
        self.events: list[dict[str, Any]] = []

    def send(self, frame: bytes) -> None:
        length = frame[1] & 0x7F
        start = 2 if length < 126 else 4 if length == 126 else 10
        self.events.append(json.loads(frame[start:]))

    def close(self, code: int, reason: str) -> None:
        self.closed, self.close_code = True, code

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]


class PhpThread:
    """Answers the bridge's calls as the extension's PHP thread would."""

    def __init__(self, bridge: CallbackBridge) -> None:
        self.bridge = bridge
        self.hooks: list[tuple[str, str, str]] = []
        self.authorize_gate = asyncio.Event()
        self.authorize_gate.set()
        self.allowed = lambda user, channel: True
        loop = asyncio.get_running_loop()
        loop.add_reader(bridge.wake_fd, lambda: loop.create_task(self._pump()))

    async def _pump(self) -> None:
        for call in self.bridge.take():
            if call.name == "authorize":
                await self.authorize_gate.wait()
                allowed = self.allowed(*call.args)
                self.bridge.resolve(call, True, ("bool", allowed, allowed))
            else:
                self.hooks.append((call.name, *call.args))
                self.bridge.resolve(call, True, ("null", False, None))

    def count(self, name: str, user: str, channel: str = ROOM) -> int:
        return self.hooks.count((name, user, channel))


@pytest.fixture
async def world():
    bridge = CallbackBridge(frozenset({"authorize", "join", "leave"}), timeout=5)
    bridge.bind(asyncio.get_running_loop())
    php = PhpThread(bridge)
    hub = Hub(MemoryBroker(), MemoryPresence(), bridge, max_channels=3)
    await hub.start()
    ids = iter(range(1, 1_000_000))

    def connect(user: str) -> RecordingPeer:
        peer = RecordingPeer(f"c{next(ids)}", user)
        hub.attach(peer)
        return peer

    yield hub, php, connect
    asyncio.get_running_loop().remove_reader(bridge.wake_fd)
    bridge.close()


async def settle(hub: Hub) -> None:
    await hub.bridge.drain()


async def test_one_join_and_one_leave_however_many_tabs(world) -> None:
    hub, php, connect = world
    tabs = [connect("7") for _ in range(3)]
    for tab in tabs:
        await hub.subscribe(tab, ROOM)
    await settle(hub)
    assert php.count("join", "7") == 1
    for tab in tabs[:2]:
        await hub.detach(tab)
    await settle(hub)
    assert php.count("leave", "7") == 0 and await hub.members(ROOM) == ["7"]
    await hub.detach(tabs[2])
    await settle(hub)
    assert php.count("leave", "7") == 1 and await hub.members(ROOM) == []
    assert hub.registry.channels == {} and hub.registry.peers == {}


async def test_members_hear_other_users_not_a_second_tab(world) -> None:
    hub, php, connect = world
    one = connect("1")
    await hub.subscribe(one, ROOM)
    two, two_again = connect("2"), connect("2")
    await hub.subscribe(two, ROOM)
    await hub.subscribe(two_again, ROOM)
    assert one.of("join") == [{"event": "join", "channel": ROOM, "user": "2"}]
    assert two.of("join") == []  # not told about itself
    await hub.detach(two)
    assert one.of("leave") == []
    await hub.detach(two_again)
    assert one.of("leave") == [{"event": "leave", "channel": ROOM, "user": "2"}]


async def test_closed_while_the_authorizer_runs_joins_nothing(world) -> None:
    hub, php, connect = world
    php.authorize_gate.clear()
    peer = connect("5")
    subscribing = asyncio.create_task(hub.subscribe(peer, "presence-secret"))
    await asyncio.sleep(0)  # the authorize call is queued and waits for PHP
    await hub.detach(peer)
    php.authorize_gate.set()
    await subscribing
    await settle(hub)
    assert php.hooks == [] and peer.of("subscribed") == []
    assert hub.registry.channels == {} and await hub.members("presence-secret") == []


async def test_refused_subscription_is_forbidden_and_joins_nothing(world) -> None:
    hub, php, connect = world
    php.allowed = lambda user, channel: channel.endswith(user)
    peer = connect("5")
    await hub.subscribe(peer, "private-6")
    await hub.subscribe(peer, "private-5")
    await settle(hub)
    assert [e["code"] for e in peer.of("error")] == ["forbidden"]
    assert peer.of("subscribed") == [{"event": "subscribed", "channel": "private-5"}]
    assert php.hooks == [("join", "5", "private-5")]


async def test_unsubscribe_then_subscribe_again_is_leave_then_join(world) -> None:
    hub, php, connect = world
    peer = connect("3")
    await hub.subscribe(peer, ROOM)
    await hub.unsubscribe(peer, ROOM)
    await hub.unsubscribe(peer, ROOM)  # twice: acknowledged, no second leave
    await hub.subscribe(peer, ROOM)
    await hub.subscribe(peer, ROOM)  # twice: acknowledged, no second join
    await settle(hub)
    assert [h for h in php.hooks if h[1] == "3"] == [("join", "3", ROOM), ("leave", "3", ROOM), ("join", "3", ROOM)]
    assert len(peer.of("subscribed")) == 3 and len(peer.of("unsubscribed")) == 2


async def test_channel_cap_refuses_beyond_it(world) -> None:
    hub, php, connect = world
    peer = connect("1")
    for channel in ("a", "b", "c", "d"):
        await hub.subscribe(peer, channel)
    assert [e["channel"] for e in peer.of("error") if e["code"] == "too_many_channels"] == ["d"]
    assert peer.channels == {"a", "b", "c"}


async def test_disconnect_closes_every_tab_of_that_user_with_4001(world) -> None:
    hub, php, connect = world
    tabs, other = [connect("9"), connect("9")], connect("8")
    hub.deliver(Event(DISCONNECT, "9"))
    assert [t.close_code for t in tabs] == [4001, 4001] and not other.closed


@pytest.mark.parametrize("seed", range(5))
async def test_random_interleavings_keep_hooks_balanced(world, seed: int) -> None:
    """Many users, tabs, subscribes, unsubscribes and closes, interleaved at random."""
    hub, php, connect = world
    rng = random.Random(seed)
    peers = [connect(str(rng.randrange(6))) for _ in range(30)]

    async def life(peer: RecordingPeer) -> None:
        for _ in range(rng.randrange(1, 6)):
            await asyncio.sleep(rng.random() / 1000)
            if rng.random() < 0.6:
                await hub.subscribe(peer, ROOM)
            else:
                await hub.unsubscribe(peer, ROOM)
        await hub.detach(peer)

    await asyncio.gather(*(life(peer) for peer in peers))
    await settle(hub)
    for user in {p.user for p in peers}:
        joins, leaves = php.count("join", user), php.count("leave", user)
        assert joins == leaves, (user, php.hooks)
        sequence = [h[0] for h in php.hooks if h[1] == user]
        assert sequence == ["join", "leave"] * joins, sequence  # strictly alternating
    assert hub.registry.channels == {} and await hub.members(ROOM) == []
