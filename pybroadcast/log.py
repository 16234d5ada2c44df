"""Logging to stderr, one line per event.

Expected failures (a client dropping mid-handshake, a bad request) are logged by
websockets with exc_info; their tracebacks are folded into the line so that the
log stays one line per event. Our own unexpected errors keep their traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

FORMAT = "%(asctime)s pybroadcast[%(process)d] %(levelname)s %(message)s"


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and record.name.startswith("websockets"):
            exc = record.exc_info[1]
            record = logging.makeLogRecord(record.__dict__)
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return super().format(record)


def configure() -> None:
    root = logging.getLogger("pybroadcast")
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter(FORMAT))
    level = os.environ.get("PYBROADCAST_LOG_LEVEL", "INFO").upper()
    for name in ("pybroadcast", "websockets"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(level if name == "pybroadcast" else "WARNING")


class LoopErrorLog:
    """The hub loop's exception handler: one line per kind of error per second.

    Under descriptor exhaustion asyncio reports every failed accept() with a
    traceback (measured: 35,000 log lines in 7 s). Here an OSError is one line;
    another error keeps its traceback the first time; repeats within `interval`
    are counted and reported with the next line of their kind.
    """

    def __init__(self, interval: float = 1.0) -> None:
        self._interval = interval
        self._last: dict[tuple[str, str], float] = {}
        self._suppressed: dict[tuple[str, str], int] = {}

    def __call__(self, loop: Any, context: dict[str, Any]) -> None:
        message = str(context.get("message") or "unexpected error in the event loop")
        exc = context.get("exception")
        key = (message, type(exc).__name__)
        now = loop.time()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        repeats = self._suppressed.pop(key, 0)
        more = f" ({repeats} more like this since the last report)" if repeats else ""
        logger = logging.getLogger("pybroadcast")
        if exc is None:
            logger.error("%s%s", message, more)
        elif isinstance(exc, OSError) or last is not None:
            logger.error("%s: %s: %s%s", message, type(exc).__name__, exc, more)
        else:
            logger.error("%s%s", message, more, exc_info=exc)
