"""The one table of make bench: the figures of the per-process cost and hub scale work (issue 11)
and of fan-out latency (issue 12), this run's beside those recorded before, with the goal and
whether this run meets it."""

from __future__ import annotations

import statistics
from typing import Any

from bench.fpm import WORKERS_CORE

# Recorded before the work (issue 11, this machine): CLI for the first call and memory.
BEFORE = {
    "first_memory": "17-38 (CLI)", "first_redis": "111-300 (CLI)", "pss_memory": "6.6", "pss_redis": "23",
    "first_rediss": "129 (fpm)", "pss_rediss": "24.8",  # rediss:// started Python until the C route spoke TLS
    "warm_memory": "86-150", "warm_redis": "64 (fpm)", "idle": "17.5", "held": "-", "large": "-",
    "reuse": "1.04-1.55 (subscribers reading on the same cores)",  # the old saturation bench, medians of 12 runs
}
# Recorded before the fan-out latency work (issue 12): latency as filed; hub CPU per delivery
# (us) from the unchanged hub measured with the spread probes, 1,000 subscribers, by msgs/s.
LATENCY_BEFORE = {"memory": "21-25 / 48-56", "redis": "-", "ratio": "6.6-9"}
CPU_BEFORE = {100: "5.0-5.5", 400: "1.3-1.5", 800: "0.69-0.74"}


MEDIANS = ("p50_ms", "p99_ms", "hub_cpu_us_per_delivery")


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per fan-out (nodes, driver, dialect, history, subscribers, rate) over its runs: the
    median of each of MEDIANS, the lowest delivered share, and `runs`; `spread`: each figure's range."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        key = (r["nodes"], r["driver"], r["dialect"], r["history"], r["subscribers"], r["msgs_per_s"])
        groups.setdefault(key, []).append(r)
    merged = []
    for group in groups.values():
        row = {**group[0], "runs": len(group), "delivered_pct": min(r["delivered_pct"] for r in group),
               "spread": {k: (min(r[k] for r in group), max(r[k] for r in group)) for k in MEDIANS}}
        row.update({k: round(statistics.median(r[k] for r in group), 2) for k in MEDIANS})
        merged.append(row)
    return merged


def _runs(row: dict[str, Any]) -> str:
    return "one run" if row["runs"] == 1 else f"median of {row['runs']} runs"


def _shown(row: dict[str, Any], key: str) -> str:
    """A median with its runs' range, when there were several."""
    low, high = row["spread"][key]
    return f"{row[key]}" if row["runs"] == 1 else f"{row[key]} ({low}-{high})"


def scaling(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The large fan-outs (bench.run's `scaled`), one per rate pair: the medians of the large runs
    (`large`) and of the small ones made in turn with them (`small`), and each pair's p99 ratio."""
    largest = max(r["subscribers"] for r in rows)
    found = []
    for pair in sorted({r["pair"] for r in rows}):
        at = [r for r in rows if r["pair"] == pair]
        large = [r for r in at if r["subscribers"] == largest]
        small = {r["run"]: r for r in at if r["subscribers"] != largest}
        ratios = sorted(round(r["p99_ms"] / small[r["run"]]["p99_ms"], 1) for r in large if r["run"] in small)
        found.append({"large": medians(large)[0], "small": medians(list(small.values()))[0], "ratios": ratios})
    return found


def _millions(figures: list[int]) -> str:
    return f"{statistics.median(figures) / 1e6:.1f}"


def _warm(rows: list[dict[str, Any]], call: str, route: str) -> dict[str, float]:
    return {r["app_process"]: r["warm_call_us_median"] for r in rows if r["call"] == call and r["route"] == route}


def summary(results: dict[str, Any]) -> list[dict[str, Any]]:
    # Judged: the server (hub or Redis) on a core of its own; Redis on the worker's core is shown beside.
    fpm = {r["driver"]: r for r in results["fpm"] if r["server_core"] != WORKERS_CORE}
    shared_core = [r for r in results["fpm"] if r["server_core"] == WORKERS_CORE]
    warm = results["warm"]
    memory = results["memory"][0]
    rows: list[dict[str, Any]] = []

    def row(figure: str, before: str, now: Any, goal: str, met: bool | None) -> None:
        """`met`: None for a figure that explains another and has no goal of its own."""
        rows.append({"figure": figure, "before": before, "now": now, "goal": goal,
                     "met": "-" if met is None else "yes" if met else "NO"})

    drivers = [d for d in ("memory", "redis", "rediss") if d in fpm]  # rediss: the Redis driver over TLS
    for driver in drivers:
        first = fpm[driver]["first_call_ms_median"]
        row(f"first broadcast() in a fresh php-fpm worker, {driver} (ms)", BEFORE[f"first_{driver}"], first,
            "<= 2", first <= 2)
    for r in shared_core:
        row(f"  the same, {r['driver']}, Redis on the worker's core (ms)", "-", r["first_call_ms_median"], "-", None)
    for driver in drivers:
        pss = round(fpm[driver]["pss_added_kib_median"] / 1024, 2)
        written = round(fpm[driver]["written_added_kib_median"] / 1024, 2)
        row(f"PSS the API adds to a php-fpm worker, {driver} (MB; of which written by it)", BEFORE[f"pss_{driver}"],
            f"{pss} ({written})", "<= 1", pss <= 1)
    for driver in drivers:
        # The pages a worker maps that its master (or others) holds too move PSS from them to it: the
        # pool's sum counts each page once.
        pools = {p["workers"]: round(p["pss_added_kib_per_worker_median"] / 1024, 2)
                 for p in results["fpm_pool"] if p["driver"] == driver}
        row(f"PSS the API adds per php-fpm worker, whole pool counted, {driver} (MB; pool of 1 / 8)",
            BEFORE[f"pss_{driver}"], f"{pools[1]} / {pools[8]}", "<= 1", max(pools.values()) <= 1)
    for call in ("broadcast()", "getChannelUsers()"):
        found = _warm(warm, call, "memory: hub command socket")
        row(f"warm {call}, memory (us; app on the hub's core / the other)", BEFORE["warm_memory"] if call == "broadcast()"
            else "-", f"{found['same core']} / {found['other core']}", "<= 30", max(found.values()) <= 30)
    script = _warm(warm, "broadcast()", "redis, history on: publish script")
    publish = _warm(warm, "broadcast()", "redis, history off: PUBLISH")
    extra = max(script[p] - publish[p] for p in script)
    row("warm broadcast(), redis: publish script beyond one round trip (a PUBLISH) (us)", BEFORE["warm_redis"],
        f"{script['same core']} / {script['other core']} (+{extra:.1f})", "<= +20", extra <= 20)
    members = _warm(warm, "getChannelUsers()", "redis: members script")
    extra = max(members[p] - publish[p] for p in members)
    row("warm getChannelUsers(), redis: beyond one round trip (us)", "-",
        f"{members['same core']} / {members['other core']} (+{extra:.1f})", "<= +20", extra <= 20)
    row("idle authenticated connection, hub RSS (KiB)", BEFORE["idle"], memory["kib_per_connection"], "<= 8",
        memory["kib_per_connection"] <= 8)
    row("connections one hub holds (fd cap 20,000)", BEFORE["held"], memory["connections"], ">= 19,000",
        memory["connections"] >= 19000)
    fanout, scaled = medians(results["fanout"]), scaling(results["large"])
    for pair in scaled:
        large, base = pair["large"], pair["small"]
        row(f"fan-out p99 at {large['offered_per_s']:,} deliveries/s: {large['subscribers']:,} vs"
            f" {base['subscribers']:,} subscribers, run in turn (ms, {_runs(large)})",
            BEFORE["large"], f"{_shown(large, 'p99_ms')} vs {_shown(base, 'p99_ms')}",
            "no worse", large["p99_ms"] <= base["p99_ms"] and large["delivered_pct"] >= 100)
    floor = {r["subscribers"]: r["sweep_ms_median"] for r in results["floor"] if r["writers"] == 1}
    small, large_count = min(floor), max(floor)
    # A message's last subscriber waits for the whole sweep: a hub that writes from one thread has
    # at 10,000 subscribers a p99 near this sweep, 7-10x the one at 1,000 here, however lean its code.
    row(f"  the same sweeps by a C loop of send(), {large_count:,} vs {small:,} loopback sockets (ms, median)",
        "-", f"{floor[large_count]} vs {floor[small]} ({floor[large_count] / floor[small]:.1f}x)", "-", None)
    # ... and with every core writing (nothing else running): no hub here can sweep faster.
    for shared in (r for r in results["floor"] if r["writers"] > 1):
        row(f"  the {shared['subscribers']:,} sweep by {shared['writers']} C writers, one per core (ms, median)", "-",
            f"{shared['sweep_ms_median']} ({shared['sweep_ms_median'] / floor[small]:.1f}x the {small:,} sweep)",
            "-", None)
    latency(results, fanout, scaled, row)
    saturation = {hubs: [r["deliveries_per_s"] for r in results["reuse_port"] if r["hubs"] == hubs] for hubs in (1, 2)}
    ratios = [r["vs_one_hub"] for r in results["reuse_port"] if r["hubs"] == 2]
    ratio = round(statistics.median(ratios), 2)
    row(f"two hubs on one port vs one hub, at saturation (x, median of {len(ratios)} runs; deliveries/s, millions)",
        BEFORE["reuse"], f"{ratio} ({min(ratios)}-{max(ratios)}; {_millions(saturation[2])} vs {_millions(saturation[1])})",
        ">= 1.8", ratio >= 1.8)
    return rows


def latency(results: dict[str, Any], fanout: list[dict[str, Any]], scaled: list[dict[str, Any]], row: Any) -> None:
    """Issue 12: publish -> receive at 100 msg/s x 1,000 (memory, and Redis with two nodes), 10,000 vs
    1,000 subscribers, and hub CPU per delivery at each rate; medians over runs (see `medians`)."""
    judged = [r for r in fanout if r["dialect"] == "native" and r["history"] == "on"]
    light = min(r["msgs_per_s"] for r in judged)
    publish = _warm(results["warm"], "broadcast()", "redis, history on: publish script")
    trip = max(publish.values()) / 1000  # one Redis round trip for a publish, in ms
    for driver, extra in (("memory", 0.0), ("redis", trip)):
        found = next(r for r in judged if r["driver"] == driver and r["msgs_per_s"] == light)
        p50, p99 = found["p50_ms"], found["p99_ms"]
        nodes = "one node" if driver == "memory" else "two nodes, Redis"
        row(f"fan-out {found['subscribers']:,} x {light} msg/s, {nodes}: publish -> receive p50 / p99 (ms,"
            f" {_runs(found)})",
            LATENCY_BEFORE[driver], f"{_shown(found, 'p50_ms')} / {_shown(found, 'p99_ms')}",
            f"<= {5 + extra:.2f} / {10 + extra:.2f}",
            p50 <= 5 + extra and p99 <= 10 + extra and found["delivered_pct"] >= 100)
    for pair in scaled:
        large, ratios = pair["large"], pair["ratios"]
        ratio = round(statistics.median(ratios), 1)
        row(f"p99 of {large['subscribers']:,} subscribers vs {pair['small']['subscribers']:,} at"
            f" {large['offered_per_s']:,} deliveries/s, run in turn (x, median of {len(ratios)})",
            LATENCY_BEFORE["ratio"], f"{ratio} ({ratios[0]}-{ratios[-1]})", "<= 10",
            ratio <= 10 and large["delivered_pct"] >= 100)
    for found in (r for r in judged if r["nodes"] == 1):
        rate = found["msgs_per_s"]
        row(f"hub CPU per delivery at {rate} msg/s x {found['subscribers']:,}, one node (us, {_runs(found)})",
            CPU_BEFORE.get(rate, "-"), _shown(found, "hub_cpu_us_per_delivery"), "no higher",
            rate in CPU_BEFORE and found["hub_cpu_us_per_delivery"] <= float(CPU_BEFORE[rate].split("-")[-1])
            and found["delivered_pct"] >= 100)
