"""The Broker contract (pybroadcast/drivers/broker.py), run against every driver."""

from __future__ import annotations

import asyncio

import pytest

from drivers import DRIVERS
from pybroadcast.events import DIRECT, DISCONNECT, MESSAGE, PUBLISHED, Event


def published(events: list[Event]) -> list[Event]:
    """The events as published, without the position history gave them (history_contract tests it)."""
    return [Event(*event[:PUBLISHED]) for event in events]


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait(self, count: int, timeout: float = 5.0) -> list[Event]:
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.events


@pytest.fixture(params=sorted(DRIVERS))
async def broker(request):
    async with DRIVERS[request.param](request) as make_driver:
        instance = make_driver().broker
        sink = Sink()
        await instance.start(sink)
        yield instance, sink
        await instance.close()
        await instance.close()  # safe twice


async def test_listened_channel_is_delivered(broker) -> None:
    b, sink = broker
    await b.listen("news")
    await b.publish(Event(MESSAGE, "news", "hé <b>"))
    events = await sink.wait(1)
    assert published(events) == [Event(MESSAGE, "news", "hé <b>")]
    assert events[0].offset == 1 and events[0].epoch  # history is on by default


async def test_unlistened_channel_is_not_delivered(broker) -> None:
    b, sink = broker
    await b.listen("news")
    await b.publish(Event(MESSAGE, "other", "no"))
    await b.publish(Event(MESSAGE, "news", "yes"))  # delivered after "no" would have been
    assert published(await sink.wait(1)) == [Event(MESSAGE, "news", "yes")]
    assert sink.events[0].offset == 1  # each channel counts its own


async def test_unlisten_stops_delivery(broker) -> None:
    b, sink = broker
    await b.listen("a")
    await b.listen("b")
    await b.unlisten("a")
    await b.publish(Event(MESSAGE, "a", "no"))
    await b.publish(Event(MESSAGE, "b", "yes"))
    assert published(await sink.wait(1)) == [Event(MESSAGE, "b", "yes")]


async def test_user_events_need_no_listen(broker) -> None:
    b, sink = broker
    await b.publish(Event(DIRECT, "7", "hi"))
    await b.publish(Event(DISCONNECT, "7"))
    assert await sink.wait(2) == [Event(DIRECT, "7", "hi"), Event(DISCONNECT, "7", "")]


async def test_events_from_one_publisher_arrive_in_order(broker) -> None:
    b, sink = broker
    await b.listen("seq")
    for i in range(300):
        await b.publish(Event(MESSAGE, "seq", str(i)))
    events = await sink.wait(300)
    assert [e.data for e in events] == [str(i) for i in range(300)]
    assert [e.offset for e in events] == list(range(1, 301)) and len({e.epoch for e in events}) == 1
