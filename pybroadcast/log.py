"""Logging to stderr, one line per event.

Expected failures (a client dropping mid-handshake, a bad request) are logged by
websockets with exc_info; their tracebacks are folded into the line so that the
log stays one line per event. Our own unexpected errors keep their traceback.
"""

from __future__ import annotations

import logging
import os
import sys

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
