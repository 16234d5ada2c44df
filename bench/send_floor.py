"""make bench: what the large fan-out's p99 is made of — one C thread writing a frame to each
subscriber's loopback socket in turn (send_floor.c), on the hub's core, at the fan-out's pace: the
time of one sweep over 1,000 and over 10,000 sockets. The kernel's send() is nearly all of it and
grows with the subscribers; a message's last subscriber waits for the whole sweep. With several
writers (threads, one per CPU), the same sweep shared: what a hub could reach with every core sending."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).resolve().parent / "send_floor.c"
# A new connection's receiver ACKs its first 16 segments at once (quick-ack), and on loopback the
# sender's core takes those ACKs: the first 16 sweeps cost ~1.2x the later ones (measured), so they
# are not counted, as the fan-out bench warms its subscribers before it measures.
WARM_UP = 16


def sweeps(counts: list[int], cpus: set[int], rounds: int, deliveries_per_s: int,
           payload: int = 100, writers: int = 1) -> list[dict[str, Any]]:
    """Per count of subscribers: the median sweep (ms) over `rounds`, as far apart as
    `deliveries_per_s` puts them (the large fan-out's pace: 1,000 every 10 ms, 10,000 every 100 ms),
    its range, and the CPU time per send (us: the sweep's time x `writers` / sends). `writers`
    threads share each sweep, one on each of `cpus` (no more writers than `cpus`)."""
    with tempfile.TemporaryDirectory(prefix="pyb-floor") as build:
        binary = os.path.join(build, "send_floor")
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-pthread", "-o", binary, str(SOURCE)], check=True)
        rows = []
        for count in counts:
            gap_us = count * 1_000_000 // deliveries_per_s
            done = subprocess.run([binary, str(count), str(WARM_UP + rounds), str(gap_us), str(payload), str(writers)],
                                  capture_output=True, text=True, timeout=300,
                                  preexec_fn=lambda: os.sched_setaffinity(0, cpus))
            assert done.returncode == 0, done.stderr
            times = [float(line) for line in done.stdout.split()][WARM_UP:]
            assert len(times) == rounds, done.stdout
            sweep = statistics.median(times)
            rows.append({"subscribers": count, "writers": writers, "sweep_ms_median": round(sweep, 2),
                         "sweep_ms_range": f"{min(times):.2f}-{max(times):.2f}",
                         "us_per_send": round(sweep * 1000 * writers / count, 2), "rounds": rounds})
        return rows
