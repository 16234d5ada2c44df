"""make bench: fan-out (1,000 and 10,000 subscribers, and the same sweeps by a C loop of send()),
memory per connection (19,000 held by one hub),
broadcast() cost in php-fpm (time and PSS), warm app calls by placement, load cost, flood impact,
what history costs, one hub vs two on one port; ends with a summary table.

Prints a table and writes build/bench.json. Numbers depend on the machine and
its load: compare figures from one run, not across machines.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from harness.processes import LogWatcher, cpu_seconds, free_port, php_command, rss_kib, short_tempdir  # noqa: E402

from bench.clients import PUSHER_KEY, worker  # noqa: E402
from bench.flood import flood_impact  # noqa: E402
from bench import history as history_bench  # noqa: E402
from bench.app_calls import warm_calls  # noqa: E402
from bench import fpm  # noqa: E402
from bench.reuse_port import one_vs_two  # noqa: E402
from bench.send_floor import sweeps  # noqa: E402
from bench.summary import summary  # noqa: E402
from pybroadcast import client as app  # noqa: E402
from pybroadcast.dialects.native import NativeDialect  # noqa: E402
from pybroadcast.dialects.pusher import PusherDialect  # noqa: E402

# Two cores: the hub gets one, the load (clients and publisher) the other.
ALL_CPUS = sorted(os.sched_getaffinity(0))
HUB_CPUS = {ALL_CPUS[0]}
LOAD_CPUS = set(ALL_CPUS[1:]) or HUB_CPUS


class HubProcess:
    def __init__(self, options: dict[str, Any] | None = None, cpus: set[int] | None = None,
                 ini: dict[str, str] | None = None, trace: str | None = None) -> None:
        """`trace`: a file for the hub's fan-out timestamps (pybroadcast/fanout_trace.py)."""
        self.dir = short_tempdir()
        self.port = free_port()
        self.socket = os.path.join(self.dir, "hub.sock")
        opts = {"listen": f"127.0.0.1:{self.port}", "socket": self.socket, "allowed_origins": "*", **(options or {})}
        self.process = subprocess.Popen(
            ["taskset", "-c", ",".join(map(str, cpus or HUB_CPUS)), *php_command(str(ROOT / "bench" / "hub.php"), ini=ini)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env={**os.environ, "BENCH_HUB_OPTIONS": json.dumps(opts), "PYBROADCAST_LOG_LEVEL": "INFO",
                            **({"PYBROADCAST_FANOUT_TRACE": trace} if trace else {})})
        self.log = LogWatcher(self.process.stdout)
        self.ini = {"socket": self.socket.encode(), **{k: str(v).encode() for k, v in (options or {}).items()
                                                      if k in ("driver", "redis_url", "redis_prefix", "history_size")}}
        self.log.wait_for(r"listening on|rror", timeout=20)
        if self.process.poll() is not None:
            raise SystemExit("hub did not start:\n" + "\n".join(self.log.lines))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def start_clients(hubs: list[HubProcess], total: int, processes: int, probes: int, channel: str,
                  cpus: set[int] | None = None, dialect: str = "native") -> list[Any]:
    """`total` subscribers spread evenly over the hubs: at each hub `probes` of them in a probe
    process and the rest in `processes` others, connected in turn so that the probes are spread."""
    controls = []
    per_hub = total // len(hubs)
    for h, hub in enumerate(hubs):
        def start(index: int, probing: bool) -> Any:
            parent, child = multiprocessing.Pipe()
            multiprocessing.Process(
                target=worker, daemon=True,
                args=(hub.port, probing, channel, f"127.0.{h}.{index + 1}", child, h * 100 + index,
                      cpus or LOAD_CPUS, dialect)).start()
            return parent

        counters = [start(index, False) for index in range(processes)]
        prober = start(processes, True) if probes else None
        left = [(per_hub - probes) // processes + (i < (per_hub - probes) % processes) for i in range(processes)]
        rounds = max(probes, 1)
        for k in range(rounds):
            if prober is not None:
                _connect([(prober, 1)])
            shares = [left[i] // (rounds - k) for i in range(processes)]  # an equal part of what is left
            _connect(list(zip(counters, shares)))
            left = [n - share for n, share in zip(left, shares)]
        controls += counters + ([prober] if prober is not None else [])
    return controls


def _connect(orders: list[tuple[Any, int]]) -> None:
    """Has each client process connect and subscribe that many more clients, at once; returns when they have."""
    for control, count in orders:
        control.send(("connect", count))
    for control, _ in orders:
        assert control.recv() == "connected"


def report(controls: list[Any]) -> dict[str, Any]:
    for control in controls:
        control.send("report")
    parts = [control.recv() for control in controls]
    probes = [x for p in parts for x in p["latencies"]]
    return {"bytes": sum(p["bytes"] for p in parts), "latencies": sorted(got - sent for sent, got in probes),
            "probes": probes, "cpu": sum(p["cpu"] for p in parts)}


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


PUSHER = {"pusher_app_id": "1", "pusher_key": PUSHER_KEY, "pusher_secret": "bench-secret"}


def fanout(subscribers: int, rates: list[int], seconds: float, processes: int,
           redis_url: str | None = None, hub_ini: dict[str, str] | None = None,
           dialect: str = "native", history: bool = True, paths: list[dict[str, Any]] | None = None
           ) -> list[dict[str, Any]]:
    """One hub with the memory driver, or (redis_url) two hubs, one per core, with Redis between them;
    subscribers speak `dialect` (native JSON, or Pusher protocol 7); `history`: history_size 100 or 0.
    A separate PHP process publishes with broadcast(). `paths`: gets, per rate, where the time went
    (the hub's fan-out trace beside the probes' receive times; one hub only)."""
    off = {} if history else {"history_size": 0}
    trace = os.path.join(short_tempdir(), "fanout.trace") if paths is not None and redis_url is None else None
    if redis_url is None:
        hubs = [HubProcess({**(PUSHER if dialect == "pusher" else {}), **off}, ini=hub_ini, trace=trace)]
        load_cpus = LOAD_CPUS
    else:
        options = {"driver": "redis", "redis_url": redis_url, "redis_prefix": f"bench{os.getpid()}-{time.time_ns()}",
                   **off}
        hubs = [HubProcess(options, {cpu}) for cpu in ALL_CPUS[:2]]
        load_cpus = set(ALL_CPUS)  # both cores are busy with hubs: the load shares them
    hub = hubs[0]
    channel = "bench"
    controls = start_clients(hubs, subscribers, processes, probes=PROBES, channel=channel, cpus=load_cpus,
                             dialect=dialect)
    report(controls)
    encoder = PusherDialect(PUSHER_KEY, "-", 20) if dialect == "pusher" else NativeDialect()
    sample = f"t={time.time():.6f}|{'x' * PADDING}"
    numbered = history and dialect == "native"  # native frames carry the offset: their size grows with it
    next_offset = 1
    publisher_ini = {f"pybroadcast.{k}": v.decode() for k, v in hub.ini.items()}

    def frame_size(count: int) -> float:
        """The mean size of the next `count` messages' frames."""
        nonlocal next_offset
        offsets = range(next_offset, next_offset + count) if numbered else [0] * count
        next_offset += count
        # (the channel's first message also announces its 16-character epoch)
        return sum(len(encoder.message(channel, sample, offset=o, epoch="e" * 16 if o == 1 else ""))
                   for o in offsets) / count

    def arrived(total_bytes: float, poll: float) -> dict[str, Any]:
        """What the clients got, once it is `total_bytes` or 10 s passed."""
        deadline = time.monotonic() + 10
        got = report(controls)
        while got["bytes"] < total_bytes and time.monotonic() < deadline:
            time.sleep(poll)
            more = report(controls)
            for key in ("bytes", "latencies", "probes", "cpu"):
                got[key] += more[key]
        return got

    rows = []
    for rate in rates:
        count = int(rate * seconds)
        publisher = subprocess.Popen(
            php_command(str(ROOT / "bench" / "publish.php"), channel, str(rate), str(count), str(PADDING),
                        str(WARM_UP), ini=publisher_ini), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert publisher.stdout and publisher.stdin and publisher.stdout.readline() == "warm\n"
            arrived(WARM_UP * subscribers * frame_size(WARM_UP), poll=0.005)
            traced = _trace_size(trace)
            cpu0, wall0 = [cpu_seconds(h.process.pid) for h in hubs], time.monotonic()
            publisher.stdin.write("go\n")
            publisher.stdin.flush()
            assert publisher.wait(timeout=seconds * 3 + 30) == 0, "the publisher failed"
        finally:
            publisher.kill()
            publisher.wait()
        publish_wall = time.monotonic() - wall0
        size = frame_size(count)
        expected = count * subscribers
        got = arrived(expected * size, poll=0.2)
        received = got["bytes"]
        wall = time.monotonic() - wall0
        lat = sorted(got["latencies"])
        rows.append({
            "nodes": len(hubs), "driver": "redis" if redis_url else "memory", "dialect": dialect,
            "history": "on" if history else "off",
            "subscribers": subscribers, "msgs_per_s": rate,
            "offered_per_s": rate * subscribers,
            "delivered_per_s": round(received / size / wall),
            "delivered_pct": round(100 * received / size / expected, 2),
            "p50_ms": round(percentile(lat, 0.50) * 1000, 2), "p99_ms": round(percentile(lat, 0.99) * 1000, 2),
            "hub_cpu_pct": "+".join(str(round(100 * (cpu_seconds(h.process.pid) - c) / wall))
                                    for h, c in zip(hubs, cpu0)),
            "hub_cpu_us_per_delivery": round(1e6 * sum(cpu_seconds(h.process.pid) - c for h, c in zip(hubs, cpu0))
                                             / max(received / size, 1), 2),
            "clients_cpu_pct": round(100 * got["cpu"] / wall),
            "publish_s": round(publish_wall, 2),
        })
        if trace is not None and paths is not None and os.path.exists(trace):
            paths.append({"subscribers": subscribers, "msgs_per_s": rate,
                          **path_figures(_read_trace(trace, traced), got["probes"])})
    for control in controls:
        control.send("stop")
    for h in hubs:
        h.stop()
    return rows


PROBES = 50  # latency probes per hub (a process of their own), spread over its subscribers
# Messages each subscriber gets just before the measured ones. A TCP receiver ACKs at once the
# first 16 segments after a silence longer than its RTO (quick-ack; 200 ms here), and on loopback
# the hub's core sends and takes those ACKs too: measured, each connection's first 16 messages
# after a pause cost the hub ~1.6x the later ones (10,000 subscribers, seven runs: the first 16 sweeps
# 67-123 ms, one 161; the later ones 49-58 on average). Left in, that is 16 of 5 s's 500 messages
# at 100 msg/s but 16 of 50 at 10 msg/s. Remote subscribers ACK on their own machines.
WARM_UP = 20
PADDING = 80  # bytes after the timestamp: ~100-byte messages


def _trace_size(trace: str | None) -> int:
    return os.path.getsize(trace) if trace and os.path.exists(trace) else 0


def _read_trace(trace: str, offset: int) -> list[list[str]]:
    with open(trace) as f:
        f.seek(offset)
        return [line.split() for line in f]


def path_figures(trace: list[list[str]], probes: list[tuple[float, float]]) -> dict[str, Any]:
    """Where one message's time goes, p50 and p99 over messages: publish (the app's timestamp) ->
    queued in the hub -> the flush that carries it begins its first write -> ends its last ->
    the last probe has it. Messages are matched by order (one publisher, one channel)."""
    received: dict[float, list[float]] = {}
    for sent, got in probes:
        received.setdefault(sent, []).append(got)
    published = sorted(received)
    queued = [float(t[1]) for t in trace if t[0] == "queued"]
    flushes = [(float(t[1]), float(t[2])) for t in trace if t[0] == "flush" and int(t[3]) > 1]
    steps: dict[str, list[float]] = {"app -> hub": [], "hub -> first write": [], "first -> last write": [],
                                     "last write -> last probe": [], "publish -> last probe": []}
    f = 0
    for sent, at in zip(published, queued):
        while f < len(flushes) and flushes[f][0] < at:
            f += 1
        if f == len(flushes):
            break
        first, last = flushes[f]
        steps["app -> hub"].append(at - sent)
        steps["hub -> first write"].append(first - at)
        steps["first -> last write"].append(last - first)
        steps["last write -> last probe"].append(max(received[sent]) - last)
        steps["publish -> last probe"].append(max(received[sent]) - sent)
    figures: dict[str, Any] = {"messages": len(steps["app -> hub"])}
    for step, values in steps.items():
        values.sort()
        figures[step] = f"{percentile(values, 0.5) * 1000:.2f} / {percentile(values, 0.99) * 1000:.2f}"
    return figures


def publish_cost(samples: int) -> list[dict[str, Any]]:
    """One publish, as an app process makes it: broadcast() (memory driver: the command socket)
    against Pusher's HTTP API (the official Python SDK, one signed POST; Laravel's PHP SDK does the same)."""
    import pusher

    hub = HubProcess(PUSHER)
    api = pusher.Pusher(app_id="1", key=PUSHER_KEY, secret="bench-secret", host="127.0.0.1", port=hub.port, ssl=False)
    rows = []
    for how, call in (("broadcast()", lambda i: app.broadcast(hub.ini, b"bench", b"x" * 100, b"Event")),
                      ("HTTP API POST /events", lambda i: api.trigger("bench", "Event", "x" * 100))):
        for i in range(20):
            call(i)  # warm: the first call pays imports and connections
        times = []
        for i in range(samples):
            started = time.perf_counter()
            call(i)
            times.append(time.perf_counter() - started)
        times.sort()
        rows.append({"publish": how, "median_us": round(statistics.median(times) * 1e6),
                     "p99_us": round(percentile(times, 0.99) * 1e6), "samples": samples})
    hub.stop()
    return rows


def compiled_vs_pure(subscribers: int, rate: int, seconds: float) -> list[dict[str, Any]]:
    """The same fan-out with the Cython-compiled hub and with its pure-Python source."""
    pure = Path(tempfile.mkdtemp(prefix="pyb-pure"))
    shutil.copytree(ROOT / "pybroadcast", pure / "pybroadcast", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    rows = []
    for build, ini in (("compiled", None), ("pure Python", {"pybroadcast.hub_path": str(pure)})):
        row = fanout(subscribers, [rate], seconds, processes=1, hub_ini=ini)[0]
        rows.append({"hub": build, **{k: row[k] for k in ("offered_per_s", "delivered_per_s", "delivered_pct",
                                                           "p50_ms", "p99_ms", "hub_cpu_pct")}})
    shutil.rmtree(pure)
    return rows


def memory_per_connection(connections: int, processes: int) -> dict[str, Any]:
    hub = HubProcess()
    time.sleep(0.3)
    before = rss_kib(hub.process.pid)
    controls = start_clients([hub], connections, processes, probes=0, channel="idle")
    time.sleep(1.0)
    after = rss_kib(hub.process.pid)
    for control in controls:
        control.send("stop")
    hub.stop()
    return {"connections": connections, "hub_rss_before_kib": before, "hub_rss_after_kib": after,
            "kib_per_connection": round((after - before) / connections, 1)}


def load_cost(runs: int) -> dict[str, Any]:
    def median_ms(command: list[str]) -> float:
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000

    def peak_kib(command: list[str]) -> int:
        out = subprocess.run(["/usr/bin/env", "php", *command[1:]], capture_output=True, text=True)
        return int(out.stdout or 0)

    plain = ["php", "-n", "-r", ""]
    loaded = php_command("-r", "")
    mem = "echo (int) (memory_get_peak_usage(true) / 1024);"
    plain_ms, loaded_ms = median_ms(plain), median_ms(loaded)
    return {"php_r_plain_ms": round(plain_ms, 2), "php_r_with_extension_ms": round(loaded_ms, 2),
            "added_ms": round(loaded_ms - plain_ms, 2),
            "zend_peak_kib_plain": peak_kib(["php", "-n", "-r", mem]),
            "zend_peak_kib_with_extension": peak_kib(php_command("-r", mem)),
            "runs": runs}


def table(title: str, rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
    line = lambda values: "  ".join(str(v).rjust(w) for v, w in zip(values, widths))  # noqa: E731
    return "\n".join([f"\n{title}", line(keys), line("-" * w for w in widths), *(line(r[k] for k in keys) for r in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rates", default="100,400,800", help="messages per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--idle", type=int, default=19000,
                        help="connections for the memory figure (one hub; the fd cap here is 20,000)")
    parser.add_argument("--large", type=int, default=10000, help="subscribers for the large fan-out")
    parser.add_argument("--quick", action="store_true", help="small numbers, to check the benchmark runs")
    args = parser.parse_args()
    os.sched_setaffinity(0, LOAD_CPUS)
    if args.quick:
        args.subscribers, args.rates, args.seconds, args.idle, args.large = 100, "50", 1, 200, 400
    rates = [int(r) for r in args.rates.split(",")]
    from harness.redis_server import RedisServer

    # The latency figures are medians over runs (the per-write cost on this VM moves 5-8 us from one
    # run to the next): each fan-out that the summary judges runs several times, a "run" column apart;
    # issue 12's figures three times, issue 11's (10,000 subscribers, one vs two hubs) five.
    repeats, scale_repeats = (1, 1) if args.quick else (3, 5)

    def runs(*args_: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = []
        for n in range(1, repeats + 1):
            rows += [{**row, "run": n} for row in fanout(*args_, **kwargs)]
            kwargs.pop("paths", None)  # where the time goes: from the first run
        return rows

    def scaled(small: int, large: int, small_rates: list[int]) -> list[dict[str, Any]]:
        """`large` subscribers at the deliveries/s of `small` at `small_rates`, each run right after one
        with `small` subscribers: the VM's cost per write drifts over minutes, so the summary's
        ratios are of runs made in turn (same run number), not of the first table's, made earlier."""
        large_rates = [max(r * small // large, 1) for r in small_rates]
        rows = []
        for n in range(1, scale_repeats + 1):  # "pair": the small rate a row is judged with (the
            # deliveries/s differ where small_rates do not divide: --quick's 50 x 100 vs 12 x 400)
            # One client process each, as the first table's fan-outs: spread over four, the 10,000
            # subscribers' reads wait their turn on the load core (measured,
            # warmed: 10,000 subscribers' p99 54-74 ms in four processes, 52-66 in one).
            for count, at_rates in ((small, small_rates), (large, large_rates)):
                rows += [{**row, "run": n, "pair": rate}
                         for row, rate in zip(fanout(count, at_rates, args.seconds, processes=1), small_rates)]
        return rows

    redis, tls_redis = RedisServer(), RedisServer(tls=True)
    try:
        two_nodes = runs(args.subscribers, rates, args.seconds, processes=1, redis_url=redis.url)
        # A worker's first call, with Redis on a core of its own (the hub's, idle meanwhile), as the
        # hub is for the memory driver and as a Redis of its own machine would be; over TLS also on
        # the worker's core, where the server's handshake work (its signature) waits for the
        # worker's, or the worker's for it.
        assert redis.process is not None and tls_redis.process is not None
        servers = [redis.process.pid, tls_redis.process.pid]  # (their main threads: Redis's work)
        for pid in servers:
            os.sched_setaffinity(pid, HUB_CPUS)
        redis_first_call = [fpm.first_call(HubProcess, samples=3 if args.quick else 15, redis_url=url)
                            for url in (redis.url, tls_redis.url)]
        for pid in servers:
            os.sched_setaffinity(pid, LOAD_CPUS)
        redis_first_call.append(fpm.first_call(HubProcess, samples=3 if args.quick else 15, redis_url=tls_redis.url,
                                               server_core=fpm.WORKERS_CORE))
        pool_memory = [fpm.pool_memory(HubProcess, workers=workers, runs=1 if args.quick else 3, redis_url=url)
                       for url in (None, redis.url, tls_redis.url) for workers in (1, 8)]
        reuse_port = one_vs_two(HubProcess, redis.url, ALL_CPUS, subscribers=400 if args.quick else 10000,
                                messages=20 if args.quick else 60, runs=scale_repeats, bursts=3 if args.quick else 9)
        history = {
            "overhead": history_bench.overhead(fanout, args.subscribers, [min(rates), max(rates)], args.seconds,
                                               redis.url, rounds=1 if args.quick else 2),
            "publish": history_bench.redis_publish_path(redis.url, samples=200 if args.quick else 3000),
            "recovery": history_bench.recovery_time(HubProcess, redis.url, runs=3 if args.quick else 20),
        }
    finally:
        redis.stop()
        tls_redis.stop()
    paths: list[dict[str, Any]] = []
    results = {
        "fanout": (runs(args.subscribers, rates, args.seconds, processes=1, paths=paths)
                   + [{**row, "run": 1} for row in fanout(args.subscribers, rates, args.seconds, processes=1,
                                                          dialect="pusher")] + two_nodes),
        "publish": publish_cost(samples=100 if args.quick else 2000),
        "compiled": compiled_vs_pure(args.subscribers, max(rates), args.seconds),
        "memory": [memory_per_connection(args.idle, processes=4)],
        # The same deliveries per second as the first rates, to ten times the subscribers.
        "large": scaled(args.subscribers, args.large, rates[::2]),
        # (and the large sweep shared by a writer on each core: the floor of any hub on this machine)
        "floor": [*sweeps([args.subscribers, args.large], HUB_CPUS, rounds=5 if args.quick else 30,
                          deliveries_per_s=args.subscribers * min(rates)),
                  *sweeps([args.large], set(ALL_CPUS), rounds=5 if args.quick else 30,
                          deliveries_per_s=args.subscribers * min(rates), writers=len(ALL_CPUS))],
        "fpm": [fpm.first_call(HubProcess, samples=5 if args.quick else 15, server_core="its own (the hub's)"),
                *redis_first_call],
        "fpm_pool": pool_memory,
        "warm": warm_calls(HubProcess, HUB_CPUS, LOAD_CPUS, runs=1 if args.quick else 5,
                           calls=2000 if args.quick else 20000),
        "load": [load_cost(runs=5 if args.quick else 30)],
        "flood": flood_impact(HubProcess, start_clients, report, percentile, app.broadcast, LOAD_CPUS,
                              seconds=1 if args.quick else 4),
        "history": history,
        "reuse_port": reuse_port,
        "paths": paths,
    }
    print(f"hub pinned to CPU {sorted(HUB_CPUS)}, load generator to CPU {sorted(LOAD_CPUS)}")
    print(table("Fan-out: one channel, ~100-byte messages (one node: memory driver; two nodes: Redis;"
                " dialect: what the subscribers speak)",
                results["fanout"]))
    print(table("Where a message's time goes, one node (ms, p50 / p99 over messages; the hub's fan-out trace and"
                " the probes' clocks): publish -> queued in the hub -> first write -> last write -> last probe",
                results["paths"]))
    print(table("One publish from an app process: broadcast() vs the Pusher HTTP API", results["publish"]))
    print(table("What compiling the hub with Cython buys (one node, the highest rate)", results["compiled"]))
    print(table("Idle memory per connection (hub RSS), and that one hub holds them", results["memory"]))
    print(table(f"Fan-out to {args.large:,} subscribers of one channel, each run right after {args.subscribers:,} at the"
                " same deliveries/s", results["large"]))
    print(table("What those p99s are made of: one C thread sending a 102-byte frame to each subscriber's loopback"
                " socket in turn, on the hub's core, at the same pace (bench/send_floor.c); and the large sweep"
                " shared by a thread on each core", results["floor"]))
    print(table("broadcast() from php-fpm (hub or Redis on the same machine; the workers on the load core)",
                results["fpm"]))
    print(table("PSS the API adds per worker, the whole pool counted (master and workers, before and after each"
                " worker's first broadcast())", results["fpm_pool"]))
    print(table("Warm app calls from PHP (CLI, 20,000 calls each), the app process on the server's core or the other one",
                results["warm"]))
    print(table("Loading the extension without calling it (php -r '')", results["load"]))
    print(table("One client flooding frames: 100 subscribers at 100 msg/s, broadcast() from this process",
                results["flood"]))
    print(table("History on (history_size 100) vs off: hub CPU per delivery, same run, alternating",
                history["overhead"]))
    print(table("The Redis publish path from an app process (RedisRoute), history off vs on", history["publish"]))
    print(table("Recovering 100 missed messages: subscribe with since -> the 100th message", history["recovery"]))
    print(table("Saturation: a burst to one channel, one hub vs two hubs on one port (reuse_port, Redis), alternating",
                results["reuse_port"]))
    results["summary"] = summary(results)
    print(table("Summary: app-process cost, hub scale and fan-out latency, this run beside the figures recorded before"
                " (issues 11 and 12)",
                results["summary"]))
    os.makedirs(ROOT / "build", exist_ok=True)
    (ROOT / "build" / "bench.json").write_text(json.dumps(results, indent=2))
    print(f"\nraw figures: {ROOT / 'build' / 'bench.json'}")


if __name__ == "__main__":
    main()
