"""The History contract (pybroadcast/drivers/history.py), run against every driver.

Each test publishes through the driver's own broker, as a hub does, and reads
back through its history; the Redis variants use the session's real redis-server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from drivers import DRIVERS
from pybroadcast.drivers.history import Page
from pybroadcast.events import MESSAGE, PUBLISHED, Event


class Node:
    """One driver's broker, listening to every channel it is asked for, and its history."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.broker = driver.broker
        self.history = driver.history
        self.delivered: list[Event] = []
        self._changed = asyncio.Event()

    def _sink(self, event: Event) -> None:
        self.delivered.append(event)
        self._changed.set()

    async def start(self, *channels: str) -> Node:
        await self.broker.start(self._sink)
        for channel in channels:
            await self.broker.listen(channel)
        return self

    async def publish(self, channel: str, *data: str) -> None:
        for text in data:
            await self.broker.publish(Event(MESSAGE, channel, text, "Named" if text.endswith("!") else ""))

    async def delivered_count(self, count: int) -> list[Event]:
        async with asyncio.timeout(5):
            while len(self.delivered) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.delivered


@pytest.fixture(params=sorted(DRIVERS))
async def make_node(request):
    async with DRIVERS[request.param](request) as make_driver:
        async def make(*channels: str, **changes: Any) -> Node:
            return await Node(make_driver(**changes)).start(*channels)
        yield make


def offsets(page: Page) -> list[int]:
    return [event.offset for event in page.events]


async def test_a_channel_without_messages_reads_as_a_placeholder_that_recovers_its_first_ones(make_node) -> None:
    node = await make_node()
    await node.publish("elsewhere", "x")  # the store has seen a message (Redis: it has a generation)
    first = await node.history.read("quiet", None, 10)
    assert first.epoch == first.now and first.epoch.startswith("~") and first.top == 0 and first.events == ()
    await node.publish("quiet", "one", "two")
    page = await node.history.read("quiet", 0, 10)
    assert page.epoch != first.epoch and not page.epoch.startswith("~") and page.top == 2  # the first message starts it
    assert [e.epoch for e in page.events] == [page.epoch] * 2
    assert page.since(first.epoch, 0) == page.events  # same store, young placeholder: from offset 1
    assert page.since(first.epoch, 1) is None  # a placeholder is only ever at offset 0


async def test_offsets_have_no_gaps_and_history_reads_both_ways(make_node) -> None:
    node = await make_node("news")
    await node.publish("news", "a", "b!", "c", "d", "e")
    page = await node.history.read("news", None, 10)
    assert offsets(page) == [1, 2, 3, 4, 5] and page.top == 5
    assert [(e.data, e.name) for e in page.events] == [("a", ""), ("b!", "Named"), ("c", ""), ("d", ""), ("e", "")]
    assert offsets(await node.history.read("news", 2, 10)) == [3, 4, 5]  # after 2, oldest first
    assert offsets(await node.history.read("news", 2, 2)) == [3, 4]
    assert offsets(await node.history.read("news", None, 2)) == [4, 5]  # the newest two
    assert offsets(await node.history.read("news", 5, 10)) == []
    assert (await node.history.read("news", None, 0)).events == ()
    # What was delivered is what was recorded: same offsets, same epoch, same fields.
    delivered = await node.delivered_count(5)
    assert delivered == list(page.events)


async def test_every_channel_counts_on_its_own(make_node) -> None:
    node = await make_node()
    await node.publish("a", "1", "2")
    await node.publish("b", "1")
    assert (await node.history.read("a", None, 10)).top == 2
    assert (await node.history.read("b", None, 10)).top == 1
    assert (await node.history.read("a", None, 10)).epoch != (await node.history.read("b", None, 10)).epoch


async def test_history_keeps_the_newest_history_size_messages(make_node) -> None:
    node = await make_node(history_size=3)
    await node.publish("news", *"abcde")
    page = await node.history.read("news", None, 10)
    assert offsets(page) == [3, 4, 5] and page.top == 5
    assert page.since(page.epoch, 2) is not None  # 3 4 5: all kept
    after_1 = await node.history.read("news", 1, 10)
    assert after_1.since(page.epoch, 1) is None  # 2 is gone: not recoverable
    after_2 = await node.history.read("news", 2, 10)
    assert [e.data for e in after_2.since(page.epoch, 2)] == ["c", "d", "e"]


async def test_messages_expire_history_ttl_after_the_last_publish_and_the_epoch_stays(make_node) -> None:
    node = await make_node(history_ttl=0.3)
    await node.publish("news", "old")
    kept = await node.history.read("news", None, 10)
    assert offsets(kept) == [1]
    async with asyncio.timeout(5):
        while (page := await node.history.read("news", None, 10)).events:
            await asyncio.sleep(0.05)  # expiry is a matter of time: poll until it happened
    assert page.epoch == kept.epoch and page.top == 1
    assert (await node.history.read("news", 0, 10)).since(kept.epoch, 0) is None  # message 1 expired
    assert page.since(kept.epoch, 1) == ()  # who had message 1 missed nothing
    await node.publish("news", "new")
    assert offsets(await node.history.read("news", None, 10)) == [2]


async def test_concurrent_publishers_get_distinct_consecutive_offsets(make_node) -> None:
    node = await make_node("busy", history_size=1000)

    async def publisher(name: str) -> None:
        for i in range(50):
            await node.publish("busy", f"{name}{i}")

    await asyncio.gather(*(publisher(name) for name in "wxyz"))
    page = await node.history.read("busy", None, 1000)
    assert offsets(page) == list(range(1, 201))
    for name in "wxyz":  # each publisher's messages in its own order
        assert [e.data for e in page.events if e.data[0] == name] == [f"{name}{i}" for i in range(50)]
    assert [e.offset for e in await node.delivered_count(200)] == list(range(1, 201))


def test_page_since_decides_recovery() -> None:
    events = tuple(Event(MESSAGE, "c", str(i)).at(i, "e1") for i in (4, 5, 6))
    page = Page("e1", 6, events, now="~g1:100000000")
    assert page.since("e1", 3) == events
    assert page.since("e1", 6) == ()
    assert page.since("e1", 2) is None  # 3 is missing
    assert page.since("e2", 3) is None  # another epoch
    assert page.since("e1", 7) is None  # beyond the top: not from this epoch
    assert Page("e1", 6, events[:2]).since("e1", 3) is None  # the read stopped short of the top
    # Placeholders (a position taken before the channel's first message):
    from_start = tuple(Event(MESSAGE, "c", str(i)).at(i, "e1") for i in (1, 2))
    young = Page("e1", 2, from_start, now="~g1:100000000")
    assert young.since("~g1:99999000", 0) == from_start  # same generation, a second old
    assert young.since("~g2:99999000", 0) is None  # another generation: the store lost its data
    assert young.since("~g1:10000000", 0) is None  # over a day old: an epoch may have come and gone
    assert young.since("~g1:100000001", 0) is None  # from the future: not this store's
    assert young.since("~:99999000", 0) is None and young.since("~g1:x", 0) is None
    assert page.since("~g1:99999000", 0) is None  # 1 to 3 are no longer kept
    assert Page("~g1:100000000", 0, (), "~g1:100000000").since("~g1:99999000", 0) == ()  # still nothing


async def test_history_size_0_means_no_history_and_no_offsets(make_node) -> None:
    node = await make_node("news", history_size=0)
    assert node.history is None
    await node.publish("news", "plain")
    [event] = await node.delivered_count(1)
    assert event.offset == 0 and event.epoch == "" and Event(*event[:PUBLISHED]) == Event(MESSAGE, "news", "plain")
