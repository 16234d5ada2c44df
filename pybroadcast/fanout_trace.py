"""Timestamps along the fan-out path, for benchmarks: ``PYBROADCAST_FANOUT_TRACE=<file>``.

The hub appends one line per channel message it queues and one per flush:

* ``queued <time> <peers>``: a channel's message reached the hub (from the command
  socket or Redis) and was queued for its subscribers here;
* ``flush <start> <end> <peers>``: a flush began its first write and ended its last.

Times are ``time.time()``, the clock app processes stamp messages with. Off (the
default) it costs the outbox one test per message and per flush.
"""

from __future__ import annotations

import os
import time

ENV = "PYBROADCAST_FANOUT_TRACE"


class FanoutTrace:
    def __init__(self, path: str) -> None:
        # Unbuffered appends: a hub stopped by a signal loses no line.
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def queued(self, peers: int) -> None:
        os.write(self._fd, f"queued {time.time():.6f} {peers}\n".encode())

    def flushed(self, started: float, ended: float, peers: int) -> None:
        os.write(self._fd, f"flush {started:.6f} {ended:.6f} {peers}\n".encode())


def from_environment() -> FanoutTrace | None:
    path = os.environ.get(ENV)
    return FanoutTrace(path) if path else None
