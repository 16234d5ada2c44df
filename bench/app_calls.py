"""Warm app calls: broadcast() in a loop from PHP (the C app route), by driver and by placement.

Where the app process runs relative to the server decides most of a round trip on this VM:
waking a process that sleeps on another core costs more than the whole exchange. So each
route is measured with the PHP process on the server's core and on the other one, the
routes alternating within each run. "redis, history off" is a plain PUBLISH to a channel
nobody listens to: one Redis round trip, the yardstick for the publish script.
"""

from __future__ import annotations

import os
import statistics
import subprocess
from typing import Any

from harness.processes import cpu_seconds, php_command
from harness.redis_server import RedisServer

CALLS = {"broadcast()": "broadcast('warm', 'warm message number ' . $i)", "getChannelUsers()": "getChannelUsers('warm')"}
CODE = """$n = (int) getenv('CALLS'); for ($i = 0; $i < 200; $i++) %(call)s;
$r0 = getrusage(); $t = hrtime(true);
for ($i = 0; $i < $n; $i++) %(call)s;
$wall = (hrtime(true) - $t) / 1e3 / $n; $r1 = getrusage();
$cpu = 0; foreach (['ru_utime', 'ru_stime'] as $k) { $cpu += ($r1["$k.tv_sec"] - $r0["$k.tv_sec"]) * 1e6 + ($r1["$k.tv_usec"] - $r0["$k.tv_usec"]); }
printf('%%.2f %%.2f', $wall, $cpu / $n);"""


def warm_calls(hub_class: Any, server_cpus: set[int], other_cpus: set[int], runs: int,
               calls: int = 20000) -> list[dict[str, Any]]:
    hub = hub_class(cpus=server_cpus)
    redis = RedisServer()
    assert redis.process is not None
    os.sched_setaffinity(redis.process.pid, server_cpus)
    redis_ini = {"pybroadcast.driver": "redis", "pybroadcast.redis_url": redis.url}
    routes = [  # (call, route, php.ini, the server's pid)
        ("broadcast()", "memory: hub command socket", {"pybroadcast.socket": hub.socket}, hub.process.pid),
        ("broadcast()", "redis, history off: PUBLISH", {**redis_ini, "pybroadcast.history_size": "0"},
         redis.process.pid),
        ("broadcast()", "redis, history on: publish script", redis_ini, redis.process.pid),
        ("getChannelUsers()", "memory: hub command socket", {"pybroadcast.socket": hub.socket}, hub.process.pid),
        ("getChannelUsers()", "redis: members script", redis_ini, redis.process.pid),
    ]
    samples: dict[tuple[str, str, str], list[tuple[float, float, float]]] = {}
    try:
        for _ in range(runs):
            for placement, cpus in (("same core", server_cpus), ("other core", other_cpus)):
                for call, route, ini, server in routes:
                    before = cpu_seconds(server)
                    out = subprocess.run(["taskset", "-c", ",".join(map(str, sorted(cpus))),
                                          *php_command("-r", CODE % {"call": CALLS[call]}, ini=ini)],
                                         capture_output=True, text=True, env={**os.environ, "CALLS": str(calls)},
                                         check=True)
                    server_us = (cpu_seconds(server) - before) / calls * 1e6
                    wall, client = map(float, out.stdout.split())
                    samples.setdefault((call, placement, route), []).append((wall, client, server_us))
    finally:
        hub.stop()
        redis.stop()
    return [{"call": call, "app_process": placement, "route": route,
             "warm_call_us_median": round(statistics.median(s[0] for s in found), 1),
             "min": round(min(s[0] for s in found), 1), "max": round(max(s[0] for s in found), 1),
             "app_cpu_us": round(statistics.median(s[1] for s in found), 1),
             "server_cpu_us": round(statistics.median(s[2] for s in found), 1), "runs": runs}
            for (call, placement, route), found in samples.items()]
