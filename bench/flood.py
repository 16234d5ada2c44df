"""One client floods the hub with frames: what do everyone else's deliveries and app calls cost?

A flooder writes ping frames as fast as it can and reconnects whenever the hub
closes it (as an attacker would). Measured in one run, idle and under the
flood, with the frame-rate limit on (the default) and off: delivery latency to
100 subscribers at 100 messages/s, and the latency of ``broadcast()`` calls.
"""

from __future__ import annotations

import asyncio
import base64
import multiprocessing
import os
import time
from typing import Any

from bench.clients import HANDSHAKE, dialect_path


async def _flood(port: int, stop: Any, counts: Any) -> None:
    ping = bytes([0x89, 0x80]) + os.urandom(4)  # an empty masked ping: 6 bytes
    burst = ping * 10_000
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write(HANDSHAKE.format(path=dialect_path("native", "flooder"), key=key).encode())
            await reader.readuntil(b"\r\n\r\n")
            counts["connections"] += 1
            drain = asyncio.ensure_future(reader.read(-1))  # discard pongs until closed
            drain.add_done_callback(lambda t: t.cancelled() or t.exception())  # a reset is expected: not logged
            while not stop.is_set() and not drain.done():
                writer.write(burst)
                counts["frames"] += 10_000
                await writer.drain()
            writer.close()
        except (OSError, asyncio.IncompleteReadError):
            await asyncio.sleep(0.01)


def flooder(port: int, stop: Any, counts: Any, cpus: set[int]) -> None:
    os.sched_setaffinity(0, cpus)
    os.nice(10)  # it shares the load core with the process that measures: load the hub, not the meter
    asyncio.run(_flood(port, stop, counts))


def measure(hub: Any, controls: list[Any], report: Any, percentile: Any, broadcast: Any,
            channel: str, seconds: float, rate: int = 100) -> dict[str, float]:
    """Publish `rate` messages/s for `seconds`; delivery and app-call latency percentiles."""
    report(controls)
    calls: list[float] = []
    start = time.monotonic()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t = time.perf_counter()
        broadcast(hub.ini, channel.encode(), f"t={time.time():.6f}|{'x' * 80}".encode())
        calls.append(time.perf_counter() - t)
    time.sleep(0.5)
    lat = report(controls)["latencies"]
    calls.sort()
    return {"deliver_p50_ms": round(percentile(lat, 0.5) * 1000, 2),
            "deliver_p99_ms": round(percentile(lat, 0.99) * 1000, 2),
            "call_p50_us": round(percentile(calls, 0.5) * 1e6), "call_p99_us": round(percentile(calls, 0.99) * 1e6)}


def flood_impact(hub_process: Any, start_clients: Any, report: Any, percentile: Any, broadcast: Any,
                 load_cpus: set[int], seconds: float) -> list[dict[str, Any]]:
    rows = []
    for limited in (True, False):
        hub = hub_process({} if limited else {"max_frame_rate": 1_000_000_000})
        controls = start_clients([hub], 100, 1, probes=100, channel="news")
        time.sleep(0.3)
        idle = measure(hub, controls, report, percentile, broadcast, "news", seconds)
        with multiprocessing.Manager() as manager:
            stop, counts = manager.Event(), manager.dict(connections=0, frames=0)
            proc = multiprocessing.Process(target=flooder, args=(hub.port, stop, counts, load_cpus), daemon=True)
            proc.start()
            time.sleep(0.5)
            flooded = measure(hub, controls, report, percentile, broadcast, "news", seconds)
            stop.set()
            proc.join(10)
            sent, connections = counts["frames"], counts["connections"]
        if not sent:
            raise RuntimeError("the flooder sent nothing: the flood figures would mean nothing")
        for control in controls:
            control.send("stop")
        hub.stop()
        for phase, figures in (("idle", idle), ("flood", flooded)):
            rows.append({"frame_limit": "100/s" if limited else "off", "phase": phase, **figures,
                         "flood_frames": sent if phase == "flood" else 0,
                         "flood_connections": connections if phase == "flood" else 0})
        for key in ("deliver_p99_ms", "call_p99_us"):
            rows[-1][key.split("_")[0] + "_p99_x_idle"] = round(flooded[key] / max(idle[key], 1e-9), 2)
            rows[-2][key.split("_")[0] + "_p99_x_idle"] = 1.0
    return rows
