"""The hub's life cycle inside the PHP process that calls ``Server::run()``.

The extension drives it from the PHP thread: ``Runtime(...)``, ``start()`` (with
every signal blocked, so the hub thread never takes PHP's signals), then a loop
of ``poll(wake_fd)`` / ``take_calls()`` / ``resolve()`` until ``finished``;
``stop()`` on SIGINT/SIGTERM; ``join()`` at the end. Everything asyncio happens
on the hub thread; other threads reach the loop only through
``call_soon_threadsafe``/``run_coroutine_threadsafe``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
from typing import Any, Iterable

from . import drivers, fanout_trace, local, log as logsetup, settings as settings_mod
from .auth import Authenticator
from .callbacks import CallbackBridge, PendingCall
from .dialects import Dialect
from .dialects.native import NativeDialect
from .dialects.pusher import PusherDialect
from .dialects.pusher_api import PusherApi
from .drivers.hub_side import HubDriver
from .endpoint import Endpoint
from .errors import BroadcastError
from .hooks import NAMES as callback_names
from .hub import Hub
from .in_hub_route import InHubRoute
from .keepalive import Keepalive
from .listener import WRITE_LIMIT, Listener
from .peer import Outbox

log = logging.getLogger("pybroadcast")

CLOSE_TIMEOUT = 2.0
# A full garbage collection visits every live object (~25 a connection: ~0.2 s at 10,000 connections
# on a small VM, all delivery stopped). CPython runs one after 10 younger ones whenever the long-lived
# objects grew by a quarter: every ~15 s while connections come and go by the hundred a second. An
# ended connection leaves no garbage cycles (connection._release), so the hub can make them rare.
FULL_COLLECTION_AFTER = 1000  # generation-1 collections (CPython's default: 10)


class Runtime:
    def __init__(self, options: Any, ini: Any, callbacks: Iterable[str]) -> None:
        # Annotated Any on purpose: Cython enforces builtin annotations, and an
        # empty PHP array arrives as a list; settings.resolve checks the shape.
        logsetup.configure()
        self.settings = settings_mod.resolve(options, ini)
        self.bridge = CallbackBridge(frozenset(callbacks) & frozenset(callback_names), self.settings.callback_timeout)
        self.finished = False
        self.pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.hub: Hub | None = None  # set once serving
        self.route = InHubRoute(self)  # broadcast() and friends inside this process
        self._stopping: asyncio.Event | None = None
        self._driver: HubDriver | None = None

    @property
    def wake_fd(self) -> int:
        return self.bridge.wake_fd

    @property
    def wake_write_fd(self) -> int:
        return self.bridge.wake_write_fd

    # --- PHP thread -------------------------------------------------------

    def start(self) -> None:
        if local.current is not None:
            raise BroadcastError("a hub is already running in this process")
        self._thread = threading.Thread(target=self._thread_main, name="pybroadcast-hub", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join(CLOSE_TIMEOUT)
            self.bridge.close()
            raise BroadcastError(str(self._error)) from None
        local.current = self

    def take_calls(self) -> list[PendingCall]:
        return self.bridge.take()

    def resolve(self, call: PendingCall, ok: bool, value: Any) -> None:
        self.bridge.resolve(call, ok, value)

    def stop(self, abandon_callbacks: bool = False) -> None:
        """Drain and stop; with abandon_callbacks (PHP is exiting) no more PHP runs."""
        loop, stopping = self.loop, self._stopping
        if abandon_callbacks:
            self.bridge.abandon()
        if loop is not None and stopping is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:
                pass  # the loop closed meanwhile: already stopped

    def join(self, timeout: float) -> bool:
        """True when the hub thread has ended (the interpreter may then be finalized)."""
        if local.current is self:
            local.current = None
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.error("hub thread did not stop within %.0f s", timeout)
                if self._driver is not None:
                    self._driver.abandon()
                return False
        self.bridge.close()
        if self._error is not None:
            raise BroadcastError(f"the hub stopped on an error: {self._error}")
        return True

    # --- hub thread -------------------------------------------------------

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to PHP by start(), or logged
            if self._ready.is_set():
                log.exception("hub stopped on an unexpected error")
            self._error = exc
        finally:
            self.finished = True
            self._ready.set()
            self.bridge.wake()

    async def _main(self) -> None:
        settings = self.settings
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(logsetup.LoopErrorLog())
        self.loop = loop
        self._stopping = asyncio.Event()
        self.bridge.bind(loop)
        driver = self._driver = drivers.hub_driver(settings)
        write_limit = max(WRITE_LIMIT, 4 * settings.max_message_size)  # bytes a client may leave unread
        outbox = Outbox(loop, write_limit, fanout_trace.from_environment())
        hub = Hub(driver.broker, driver.presence, self.bridge, settings.max_channels, driver.history,
                  settings.history_size, outbox)
        await hub.start()
        authenticator = Authenticator(self.bridge, settings.auth_url, settings.callback_timeout)
        if not authenticator.configured:
            log.warning("neither onAuthenticate nor auth_url is set: every connection will be rejected")
        dialects, api = _dialects(settings, hub)
        endpoint = Endpoint(settings, hub, authenticator, outbox, dialects)
        host, port = settings.listen
        try:
            await driver.start_serving(hub)
            listener = Listener(endpoint, max_size=settings.max_message_size, frame_rate=settings.max_frame_rate,
                                api=api, close_timeout=CLOSE_TIMEOUT, write_limit=write_limit)
            # No compression (per-message deflate costs ~50 KiB per idle connection) and no
            # keepalive per connection (one Keepalive for the hub): see connection.py.
            await listener.start(host or None, port, reuse_port=settings.reuse_port == "on")
        except BaseException as exc:
            await driver.stop_serving()
            await driver.close()
            if isinstance(exc, OSError):
                raise BroadcastError(f"cannot listen on {host or '*'}:{port}: {exc.strerror or exc}") from None
            raise
        self.hub = hub
        bound = ", ".join(f"{s.getsockname()[0]}:{s.getsockname()[1]}" for s in listener.sockets)
        endpoints = "WebSocket endpoint /ws" + (", Pusher /app/{key} and HTTP API /apps/{app_id}/..." if api else "")
        log.info("listening on %s (%s, driver %s)", bound, endpoints, settings.driver)
        keepalive = Keepalive(asyncio.get_running_loop(), hub.registry.peers, settings.ping_interval)
        keepalive.start()
        self._ready.set()
        await self._stopping.wait()
        keepalive.stop()
        log.info("shutting down: closing %d connections (1001, or their dialect's own code)", len(hub.registry.peers))
        for peer in list(hub.registry.peers.values()):
            if peer.dialect.shutdown_code != 1001:
                peer.close(peer.dialect.shutdown_code, "server shutting down")
        await listener.close(1001)
        await driver.stop_serving()
        await self.bridge.drain()  # the leave hooks that the closes fired
        await driver.close()
        log.info("stopped")


def _dialects(settings: settings_mod.Settings, hub: Hub) -> tuple[list[Dialect], PusherApi | None]:
    """What the hub speaks: the native dialect, and the Pusher one with its HTTP API when a key is set."""
    if not settings.pusher_key:
        return [NativeDialect()], None
    pusher = PusherDialect(settings.pusher_key, settings.pusher_secret, settings.ping_interval,
                           settings.client_events, settings.max_message_size)
    api = PusherApi(settings.pusher_app_id, settings.pusher_key, settings.pusher_secret, hub, settings.max_message_size)
    return [NativeDialect(), pusher], api
