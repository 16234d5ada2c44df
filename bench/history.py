"""What history costs and what it buys: fan-out CPU per delivery with history on and off
(same run, alternating), the Redis publish path, and the time to recover 100 missed messages.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from typing import Any, Callable

from websockets.asyncio.client import connect

from pybroadcast import client as app
from pybroadcast.drivers.redis.route import RedisRoute
from pybroadcast.events import MESSAGE, Event
from pybroadcast.settings import resolve


def overhead(fanout: Callable[..., list[dict[str, Any]]], subscribers: int, rates: list[int], seconds: float,
             redis_url: str, rounds: int = 2) -> list[dict[str, Any]]:
    """Hub CPU per delivery, history off and on, alternating `rounds` times (one node, then two on Redis)."""
    rows = []
    for label, kwargs in (("memory, 1 node", {}), ("redis, 2 nodes", {"redis_url": redis_url})):
        for rate in rates if not kwargs else rates[-1:]:
            per_delivery: dict[bool, list[float]] = {False: [], True: []}
            delivered: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(rounds):
                for history in (False, True):
                    row = fanout(subscribers, [rate], seconds, processes=1, history=history, **kwargs)[0]
                    cpu = sum(float(x) for x in row["hub_cpu_pct"].split("+")) / 100  # cores, summed over hubs
                    per_delivery[history].append(cpu / max(row["delivered_per_s"], 1) * 1e6)
                    delivered[history].append(row["delivered_pct"])
            off, on = statistics.median(per_delivery[False]), statistics.median(per_delivery[True])
            rows.append({"hubs": label, "msgs_per_s": rate, "deliveries_per_s": rate * subscribers,
                         "cpu_us_per_delivery_off": round(off, 3), "cpu_us_per_delivery_on": round(on, 3),
                         "on_vs_off": f"{100 * (on / off - 1):+.1f}%",
                         "delivered_pct_off": min(delivered[False]), "delivered_pct_on": min(delivered[True]),
                         "runs": rounds})
    return rows


def redis_publish_path(redis_url: str, samples: int) -> list[dict[str, Any]]:
    """An app process's publish with the Redis driver: PUBLISH (history off) vs the publish script
    (history on), beside one PING, the cost of one round trip on this machine."""
    rows = []
    prefix = f"benchpub{os.getpid()}"
    for label, size in (("history off: PUBLISH", "0"), ("history on: publish script", "100")):
        route = RedisRoute(resolve({"driver": "redis", "redis_url": redis_url, "redis_prefix": prefix,
                                    "history_size": size}, {}, {}))
        event = Event(MESSAGE, "bench", "x" * 100)
        for _ in range(50):
            route.publish(event)  # warm: connection and script cache
        rows.append({"call": label, **_timed(lambda: route.publish(event), samples)})
    ping = RedisRoute(resolve({"driver": "redis", "redis_url": redis_url}, {}, {}))._redis
    rows.append({"call": "one round trip: PING", **_timed(ping.ping, samples)})
    return rows


def _timed(call: Callable[[], Any], samples: int) -> dict[str, Any]:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    times.sort()
    return {"median_us": round(statistics.median(times) * 1e6), "p99_us": round(times[int(0.99 * len(times))] * 1e6),
            "samples": samples}


def recovery_time(hub_process: Any, redis_url: str, runs: int, missed: int = 100) -> list[dict[str, Any]]:
    """A client reconnects after `missed` messages: from its subscribe (with since) to the last missed one."""
    rows = []
    for label, options in (("memory", {}), ("redis", {"driver": "redis", "redis_url": redis_url,
                                                      "redis_prefix": f"benchrec{os.getpid()}"})):
        hub = hub_process(options)
        try:
            times = asyncio.run(_recover(hub, runs, missed))
        finally:
            hub.stop()
        rows.append({"driver": label, "missed": missed, "median_ms": round(statistics.median(times) * 1000, 2),
                     "max_ms": round(max(times) * 1000, 2), "runs": runs})
    return rows


async def _recover(hub: Any, runs: int, missed: int) -> list[float]:
    url = f"ws://127.0.0.1:{hub.port}/ws?user=bench"
    times = []
    for n in range(runs):
        channel = f"recover{n}"
        async with connect(url) as ws:
            await ws.recv()  # connected
            await ws.send(json.dumps({"action": "subscribe", "channel": channel}))
            await ws.recv()  # subscribed
            app.broadcast(hub.ini, channel.encode(), b"start")
            first = json.loads(await ws.recv())  # the channel's first message: it carries the epoch
        for i in range(missed):
            app.broadcast(hub.ini, channel.encode(), f"missed {i} {'x' * 80}".encode())
        async with connect(url) as ws:
            await ws.recv()
            started = time.perf_counter()
            await ws.send(json.dumps({"action": "subscribe", "channel": channel,
                                      "since": {"epoch": first["epoch"], "offset": first["offset"]}}))
            answer = json.loads(await ws.recv())
            assert answer.get("recovered") is True, answer
            for _ in range(missed):
                await ws.recv()
            times.append(time.perf_counter() - started)
    return times
