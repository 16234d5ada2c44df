"""make bench: what the API costs php-fpm workers — a fresh worker's first broadcast() (time, PSS,
pages written) and warm calls, and the memory it adds per worker in a pool whose workers all use it.

php-fpm gets its settings as php.ini gives them (README): its master then sees them before it forks
its workers (pyb_fast_prefork), which a pool's php_admin_value, read only by workers, would not.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from harness.processes import LogWatcher, fastcgi_get, fpm_command, fpm_config, free_port

BENCH = Path(__file__).resolve().parent
WORKERS_CORE = "the worker's"  # a first_call() server_core: the summary shows it, unjudged


class FpmPool:
    """php-fpm with a static pool of `workers`, each recycled after `max_requests` (0: never)."""

    def __init__(self, options: dict[str, Any], workers: int, max_requests: int) -> None:
        self.port = free_port()
        config = Path(tempfile.mkdtemp(prefix="pyb-fpm"), "fpm.conf")
        config.write_text(fpm_config(self.port, workers, max_requests))
        self.process = subprocess.Popen(fpm_command(str(config), {f"pybroadcast.{k}": v for k, v in options.items()}),
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        LogWatcher(self.process.stdout).wait_for("ready to handle connections")

    def get(self, script: str, query: dict[str, Any]) -> str:
        return fastcgi_get(self.port, str(BENCH / script), query, timeout=60)[1]

    def pss_kib(self) -> int:
        """The pool's PSS, master and workers: what it costs the machine, shared pages counted once."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        total = 0
        for pid in [self.process.pid, *map(int, children)]:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            total += int(rollup.split("\nPss:")[1].split()[0])
        return total

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)


@contextmanager
def _hub(hub_class: Any, redis_url: str | None) -> Iterator[dict[str, Any]]:
    """A hub for the workers' calls (memory driver: its command socket; Redis: a hub beside them),
    and the settings the workers need."""
    options = {"driver": "redis", "redis_url": redis_url, "redis_prefix": f"fpm{os.getpid()}"} if redis_url else {}
    hub = hub_class(options)
    try:
        yield options or {"socket": hub.socket}
    finally:
        hub.stop()


def first_call(hub_class: Any, samples: int, redis_url: str | None = None,
               server_core: str = "its own") -> dict[str, Any]:
    """`samples` fresh workers' first broadcast() (pm.max_requests = 1: each request is a new
    worker's first), then 2,000 warm ones each. `server_core`: where the server the workers call
    (the hub, or Redis) runs, for the table: the caller places it."""
    first, warm, pss, written = [], [], [], []
    with _hub(hub_class, redis_url) as options:
        pool = FpmPool(options, workers=1, max_requests=1)
        for _ in range(samples):
            body = json.loads(pool.get("fpm_broadcast.php", {"n": 2000}))
            first.append(body["first_call_ms"])
            warm.append(body["warm_call_us"])
            pss.append(body["pss_added_kib"])
            written.append(body["written_added_kib"])
        pool.stop()
    return {"driver": redis_url.partition(":")[0] if redis_url else "memory", "server_core": server_core,
            "first_call_ms_median": round(statistics.median(first), 2), "first_call_ms_max": round(max(first), 2),
            "warm_call_us_median": round(statistics.median(warm), 1),
            "pss_added_kib_median": round(statistics.median(pss)),
            "written_added_kib_median": round(statistics.median(written)), "samples": samples}


def pool_memory(hub_class: Any, workers: int, runs: int, redis_url: str | None = None) -> dict[str, Any]:
    """A pool of `workers`, each having served one request: its PSS, then again after each worker
    has made its first broadcast(); the difference per worker (median of `runs` pools). Unlike one
    fresh worker's PSS, this counts once the library pages that every worker maps and shares."""
    added = []
    with _hub(hub_class, redis_url) as options:
        for _ in range(runs):
            pool = FpmPool(options, workers=workers, max_requests=0)

            def everyone(call: int) -> None:
                # Requests that hold their worker for a moment, all at once: one per worker.
                with ThreadPoolExecutor(workers) as requests:
                    pids = list(requests.map(lambda _: pool.get("fpm_pool.php", {"call": call}), range(workers)))
                assert len(set(pids)) == workers, pids

            everyone(0)
            before = pool.pss_kib()
            everyone(1)
            added.append((pool.pss_kib() - before) / workers)
            pool.stop()
    return {"driver": redis_url.partition(":")[0] if redis_url else "memory", "workers": workers,
            "pss_added_kib_per_worker_median": round(statistics.median(added)),
            "spread": [round(min(added)), round(max(added))], "runs": runs}
