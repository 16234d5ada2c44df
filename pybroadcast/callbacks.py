"""Runs PHP callables on the PHP thread for coroutines on the hub's loop.

Why it is shaped this way: PHP values, the Zend allocator and the PHP API may be
touched only on the PHP thread, which sits in ``Server::run()``. So the hub
thread never calls into C: it queues a call, writes a byte to a wake-up pipe and
awaits a future. The PHP thread polls the pipe with the GIL released, takes the
queue (``take``), runs each callable with the GIL released, and hands back the
outcome (``resolve``), which lands on the loop through ``call_soon_threadsafe``.
Python never calls C, so the bridge needs no cffi layer (the product's
dependency list names cffi for this job; it would only add a second way in).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
from typing import Any

from .php_values import PhpValue

log = logging.getLogger("pybroadcast")


class CallbackError(Exception):
    """The PHP callable threw, or did not answer in time."""


class CallbackAbandoned(CallbackError):
    """PHP is exiting (exit() in a callback, a fatal error): no callback will run again."""


class PendingCall:
    __slots__ = ("name", "args", "future")

    def __init__(self, name: str, args: tuple[Any, ...], future: asyncio.Future[Any]) -> None:
        self.name = name
        self.args = args
        self.future = future


class CallbackBridge:
    def __init__(self, names: frozenset[str], timeout: float) -> None:
        self.names = names
        self.timeout = timeout
        self.wake_fd, self.wake_write_fd = os.pipe()
        os.set_blocking(self.wake_fd, False)
        os.set_blocking(self.wake_write_fd, False)
        self._queue: collections.deque[PendingCall] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outstanding: set[asyncio.Future[Any]] = set()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def has(self, name: str) -> bool:
        return name in self.names

    # --- hub thread -------------------------------------------------------

    def submit(self, name: str, *args: Any) -> asyncio.Future[Any]:
        """Queue a call now (so calls run in the order they were made)."""
        assert self._loop is not None
        future = self._loop.create_future()
        self._queue.append(PendingCall(name, args, future))
        self._outstanding.add(future)
        future.add_done_callback(self._outstanding.discard)
        handle = self._loop.call_later(self.timeout, self._expire, future, name)
        future.add_done_callback(lambda _: handle.cancel())
        self.wake()
        return future

    async def call(self, name: str, *args: Any) -> PhpValue:
        """Run a PHP callable and return its result; CallbackError if it threw or timed out."""
        return await self.submit(name, *args)

    def notify(self, name: str, *args: Any) -> None:
        """Run a PHP callable whose result nobody waits for; failures are logged."""
        self.submit(name, *args).add_done_callback(lambda f: f.exception() if not f.cancelled() else None)

    async def drain(self) -> None:
        """Wait until every queued call has finished or timed out."""
        while self._outstanding:
            await asyncio.wait(list(self._outstanding))

    def abandon(self) -> None:
        """PHP is going away: refuse new calls; every call not yet answered fails now,
        the one PHP was running included (safe from any thread)."""
        self.names = frozenset()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._fail_outstanding)
            except RuntimeError:
                pass  # the loop closed meanwhile

    def _fail_outstanding(self) -> None:
        self._queue.clear()
        for future in list(self._outstanding):
            if not future.done():
                future.set_exception(CallbackAbandoned("not answered: PHP is exiting"))

    def wake(self) -> None:
        try:
            os.write(self.wake_write_fd, b"\0")
        except BlockingIOError:
            pass  # the pipe is full, so the PHP thread is already due to wake

    def _expire(self, future: asyncio.Future[Any], name: str) -> None:
        if not future.done():
            log.error("PHP callback %s timed out after %.1f s", name, self.timeout)
            future.set_exception(CallbackError(f"{name} timed out"))

    # --- PHP thread -------------------------------------------------------

    def take(self) -> list[PendingCall]:
        try:
            while os.read(self.wake_fd, 4096):
                pass
        except BlockingIOError:
            pass
        calls = []
        while self._queue:
            call = self._queue.popleft()
            if not call.future.done():  # skip calls that already timed out
                calls.append(call)
        return calls

    def resolve(self, call: PendingCall, ok: bool, value: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._settle, call, ok, value)

    @staticmethod
    def _settle(call: PendingCall, ok: bool, value: Any) -> None:
        if call.future.done():
            return
        if ok:
            call.future.set_result(PhpValue(*value))
        else:
            log.error("PHP callback %s threw %s", call.name, value)
            call.future.set_exception(CallbackError(f"{call.name} threw {value}"))

    def close(self) -> None:
        for fd in (self.wake_fd, self.wake_write_fd):
            try:
                os.close(fd)
            except OSError:
                pass
