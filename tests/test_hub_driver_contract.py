"""The HubDriver contract (pybroadcast/drivers/hub_side.py), run against every driver."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from drivers import DRIVERS
from pybroadcast.callbacks import CallbackBridge
from pybroadcast.drivers.broker import Broker
from pybroadcast.drivers.presence import Presence
from pybroadcast.events import MESSAGE, Event
from pybroadcast.hub import Hub


async def started_hub(driver) -> Hub:
    """The real hub core over this driver (no PHP callbacks)."""
    hub = Hub(driver.broker, driver.presence, CallbackBridge(frozenset(), 5))
    hub.bridge.bind(asyncio.get_running_loop())
    await hub.start()
    return hub


@pytest.fixture(params=sorted(DRIVERS))
async def made(request):
    async with DRIVERS[request.param](request) as make_driver:
        yield request.param, make_driver


async def test_a_driver_brings_a_broker_and_a_presence_that_start_and_close(made) -> None:
    name, make_driver = made
    driver = make_driver()
    assert isinstance(driver.broker, Broker) and isinstance(driver.presence, Presence)
    events: list[Event] = []
    await driver.broker.start(events.append)
    await driver.presence.start(lambda *args: asyncio.sleep(0))
    await driver.broker.listen("news")
    await driver.broker.publish(Event(MESSAGE, "news", "x"))
    async with asyncio.timeout(5):
        while not events:
            await asyncio.sleep(0.01)
    await driver.close()
    await driver.close()  # safe twice


async def test_serving_starts_and_stops_safely_and_abandon_works_from_another_thread(made, tmp_path) -> None:
    name, make_driver = made
    driver = make_driver()
    await driver.start_serving(await started_hub(driver))
    await driver.stop_serving()
    await driver.stop_serving()  # safe twice
    abandoned = threading.Thread(target=driver.abandon)
    abandoned.start()
    abandoned.join(5)
    assert not abandoned.is_alive()
    await driver.close()


async def test_abandon_removes_what_would_make_app_processes_wait(made) -> None:
    """The memory driver's command socket: gone after abandon, so app calls name a dead hub."""
    name, make_driver = made
    driver = make_driver()
    await driver.start_serving(await started_hub(driver))
    socket_path = getattr(driver, "_settings").socket_path if name == "memory" else None
    if socket_path is not None:
        assert os.path.exists(socket_path)
    await asyncio.to_thread(driver.abandon)
    if socket_path is not None:
        assert not os.path.exists(socket_path)
    await driver.stop_serving()
    await driver.close()
