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
from pybroadcast.drivers.memory.history import MemoryHistory
from pybroadcast.drivers.memory.presence import MemoryPresence
from pybroadcast.events import DISCONNECT, MESSAGE, Event
from pybroadcast.hub import Hub
from pybroadcast.registry import SNAPSHOT_FROM

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


def connector(hub: Hub) -> Any:
    """connect(user): a new RecordingPeer attached to `hub`."""
    ids = iter(range(1, 1_000_000))

    def connect(user: str) -> RecordingPeer:
        peer = RecordingPeer(f"c{next(ids)}", user)
        hub.attach(peer)
        return peer

    return connect


@pytest.fixture
async def world():
    bridge = CallbackBridge(frozenset({"authorize", "join", "leave"}), timeout=5)
    bridge.bind(asyncio.get_running_loop())
    php = PhpThread(bridge)
    hub = Hub(MemoryBroker(), MemoryPresence(), bridge, max_channels=3)
    await hub.start()
    yield hub, php, connector(hub)
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


async def test_a_message_goes_to_the_channels_subscribers_as_they_are_when_it_is_sent(world) -> None:
    """The recipients are a snapshot kept from message to message (registry.snapshot): a join or a
    leave must end it, so that the next message reaches exactly the subscribers of that moment."""
    hub, php, connect = world
    crowd = [connect(f"c{n}") for n in range(SNAPSHOT_FROM - 1)]
    for peer in crowd:
        await hub.subscribe(peer, "news")
    first, second = connect("1"), connect("2")
    await hub.subscribe(first, "news")
    group = hub.registry.channels["news"][DIALECT]
    recipients = hub.registry.snapshot("news", DIALECT, group)
    assert set(recipients) == {*crowd, first} and hub.registry.snapshot("news", DIALECT, group) is recipients
    hub.deliver(Event(MESSAGE, "news", "a"))
    await hub.subscribe(second, "news")
    hub.deliver(Event(MESSAGE, "news", "b"))
    await hub.unsubscribe(first, "news")
    hub.deliver(Event(MESSAGE, "news", "c"))
    await hub.detach(second)
    await hub.subscribe(first, "news")
    hub.deliver(Event(MESSAGE, "news", "d"))
    assert [e["data"] for e in first.of("message")] == ["a", "b", "d"]
    assert [e["data"] for e in second.of("message")] == ["b", "c"]
    assert [e["data"] for e in crowd[0].of("message")] == ["a", "b", "c", "d"]


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


# --- history: positioning a subscriber while messages keep coming --------------------------------

class GatedHistory:
    """The real MemoryHistory, with reads that wait at a gate (before or after reading), so
    that the test can publish while a subscriber is being positioned."""

    def __init__(self, history: Any) -> None:
        self.history = history
        self.gate = asyncio.Event()
        self.gate.set()
        self.read_first = False  # True: the page is read, then the gate waits (a stale page)
        self.waiting = asyncio.Event()

    def close(self, read_first: bool = False) -> None:
        """The next reads wait at the gate; `waiting` is set once one does."""
        self.read_first = read_first
        self.gate.clear()
        self.waiting.clear()

    async def read(self, channel: str, after: int | None, limit: int) -> Any:
        if self.read_first:
            page = await self.history.read(channel, after, limit)
        self.waiting.set()
        await self.gate.wait()
        return page if self.read_first else await self.history.read(channel, after, limit)


@pytest.fixture
async def history_world():
    bridge = CallbackBridge(frozenset(), timeout=5)
    bridge.bind(asyncio.get_running_loop())
    recorded = MemoryHistory(100, 300)
    history = GatedHistory(recorded)
    hub = Hub(MemoryBroker(recorded), MemoryPresence(), bridge, history=history, history_size=100)  # type: ignore[arg-type]
    await hub.start()
    connect = connector(hub)

    async def publish(*data: str) -> None:
        for text in data:
            await hub.publish(Event(MESSAGE, "news", text))

    yield hub, history, connect, publish
    bridge.close()


def offsets_of(peer: RecordingPeer) -> list[int]:
    return [e["offset"] for e in peer.of("message")]


async def test_messages_published_while_recovering_come_after_the_missed_ones(history_world) -> None:
    hub, history, connect, publish = history_world
    watcher = connect("1")
    await hub.subscribe(watcher, "news")
    await publish("1", "2", "3")
    epoch = watcher.of("message")[0]["epoch"]  # the first message announced the channel's epoch
    assert [e.get("epoch") for e in watcher.of("message")] == [epoch, None, None]
    history.close(read_first=True)
    late = connect("2")
    subscribing = asyncio.ensure_future(hub.subscribe(late, "news", since=(epoch, 1)))
    await history.waiting.wait()  # the page (top 3) is read; these arrive live, before it is sent
    await publish("4", "5")
    assert late.events == [{"event": "connected", "user": "2", "connection": late.id}]
    history.gate.set()
    await subscribing
    assert late.of("subscribed") == [{"event": "subscribed", "channel": "news", "epoch": epoch, "offset": 3,
                                      "recovered": True}]
    assert offsets_of(late) == [2, 3, 4, 5]
    await publish("6")
    assert offsets_of(late) == [2, 3, 4, 5, 6] and offsets_of(watcher) == [1, 2, 3, 4, 5, 6]
    assert not hub._held  # the hold ended


async def test_a_plain_subscribe_gets_what_follows_its_position(history_world) -> None:
    hub, history, connect, publish = history_world
    await publish("1")
    history.close()
    late = connect("2")
    subscribing = asyncio.ensure_future(hub.subscribe(late, "news"))
    await history.waiting.wait()  # listening already: these are held, then found in the page
    await publish("2", "3")
    history.gate.set()
    await subscribing
    assert late.of("subscribed")[0]["offset"] == 3
    await publish("4")
    assert offsets_of(late) == [4]  # 2 and 3 came before its position: not sent


async def test_a_message_still_on_its_way_is_not_sent_twice(history_world) -> None:
    """Redis: the page can be read before this node's Pub/Sub delivers a message it holds."""
    hub, history, connect, publish = history_world
    recorded = [history.history.record(Event(MESSAGE, "news", text)) for text in "12"]  # not delivered yet
    late = connect("2")
    await hub.subscribe(late, "news", since=(recorded[0].epoch, 0))
    assert offsets_of(late) == [1, 2] and hub._held  # from the history; 1 and 2 may still arrive
    hub.deliver(recorded[0])
    hub.deliver(recorded[1])  # at the position: dropped, and the hold ends there
    assert offsets_of(late) == [1, 2] and not hub._held
    await publish("3")
    assert offsets_of(late) == [1, 2, 3]
