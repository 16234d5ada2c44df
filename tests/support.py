"""Helpers for tests that drive real PHP processes and real WebSocket clients."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from harness.processes import (  # noqa: F401  (re-exported for the tests)
    EXT, ORIGIN, PHP, PHP_ENGINE, ROOT, LogWatcher, free_port, php_command, php_string, run_php, short_tempdir,
)


class Hub:
    """A real hub: `php tests/php/hub.php` (or another script) with the extension."""

    def __init__(self, config: dict[str, Any] | None = None, script: str | None = None,
                 env: dict[str, str] | None = None, wrapper: list[str] | None = None, ext: str | None = None) -> None:
        """`env` is applied last (over the settings' variables made from `options`); `ext`: another
        copy of the extension than the build's."""
        config = dict(config or {})
        self.dir = short_tempdir()
        self.port = free_port()
        self.socket = os.path.join(self.dir, "hub.sock")
        options = {"listen": f"127.0.0.1:{self.port}", "socket": self.socket, "allowed_origins": ORIGIN}
        options.update(config.get("options", {}))
        config["options"] = options
        self.socket = options["socket"]
        self.options = options
        self.ini = {"pybroadcast.socket": self.socket}
        # The same settings as environment variables, for scripts that take no options.
        settings_env = {"SERVER_ADDRESS": options["listen"], "PYBROADCAST_SOCKET": self.socket,
                        "ALLOWED_ORIGINS": options["allowed_origins"]}
        self.process = subprocess.Popen(
            [*(wrapper or []), *php_command(script or str(ROOT / "tests" / "php" / "hub.php"), ext=ext)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYB_TEST_HUB": json.dumps(config), **settings_env, **(env or {})},
        )
        self.log = LogWatcher(self.process.stdout)
        self.log.wait_for(r"listening on|Fatal|Exception", timeout=20)
        if self.process.poll() is not None or not self.log.matching("listening on"):
            raise AssertionError("hub did not start:\n" + "\n".join(self.log.lines))

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def php(self, code: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run PHP code as an app process pointed at this hub."""
        return run_php(code, ini={**self.ini, **kwargs.pop("ini", {})}, **kwargs)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


async def open_client(hub: Hub, user: str | int | None = "1", origin: str | None = ORIGIN,
                      path: str = "/ws", **kwargs: Any) -> ClientConnection:
    query = f"?user={user}" if user is not None else ""
    return await connect(f"ws://127.0.0.1:{hub.port}{path}{query}", origin=origin, open_timeout=10, **kwargs)


async def recv_json(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def client(hub: Hub, user: str | int = "1", **kwargs: Any) -> ClientConnection:
    """An open, authenticated client whose `connected` event has been read."""
    ws = await open_client(hub, user, **kwargs)
    event = await recv_json(ws)
    assert event["event"] == "connected" and event["user"] == str(user), event
    return ws


async def subscribe(ws: ClientConnection, channel: str) -> dict[str, Any]:
    await ws.send(json.dumps({"action": "subscribe", "channel": channel}))
    return await recv_json(ws)


def ack(event: dict[str, Any]) -> dict[str, Any]:
    """A `subscribed` event without the history position it carries (checked here: an epoch
    string and an offset >= 0, both or neither), for tests about something else."""
    rest = {k: v for k, v in event.items() if k not in ("epoch", "offset")}
    if rest.get("event") == "subscribed" and ("epoch" in event or "offset" in event):
        assert isinstance(event.get("epoch"), str) and event["epoch"], event
        assert isinstance(event.get("offset"), int) and event["offset"] >= 0, event
    return rest


def announced(event: dict[str, Any]) -> dict[str, Any]:
    """A channel's first message without the epoch it announces (checked: a non-empty string)."""
    rest = dict(event)
    assert isinstance(rest.pop("epoch", None), str) and event["epoch"], event
    return rest


async def next_event(ws: ClientConnection, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next event of one kind, skipping others (e.g. presence noise)."""
    deadline = time.monotonic() + timeout
    while True:
        event = await recv_json(ws, max(deadline - time.monotonic(), 0.01))
        if event["event"] == kind:
            return event


def raw_client(hub: Hub, user: str, channel: str, rcvbuf: int | None = None) -> socket.socket:
    """A client that completes the handshake and subscribes, then never reads or answers pings."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", hub.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws?user={user} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {ORIGIN}\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    assert accept in response
    payload = json.dumps({"action": "subscribe", "channel": channel}).encode()
    mask = os.urandom(4)
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return sock


class Taker:
    """A listener endpoint that accepts every upgrade and hands each connection to the test
    (connection.py and listener.py on their own, without a hub); it records what it hears."""

    def __init__(self) -> None:
        self.taken: asyncio.Queue[Any] = asyncio.Queue()  # connections, as they open
        self.gone: asyncio.Queue[Any] = asyncio.Queue()  # connections, as `closed` is called
        self.messages: list[str | bytes] = []

    async def process_request(self, connection: Any, request: Any) -> None:
        return None

    def opened(self, connection: Any) -> bool:
        self.taken.put_nowait(connection)
        return True

    async def received(self, connection: Any, message: str | bytes) -> None:
        self.messages.append(message)

    async def closed(self, connection: Any) -> None:
        self.gone.put_nowait(connection)


async def listening(endpoint: Any, max_size: int = 65536, **options: Any) -> Any:
    """A started Listener for `endpoint` on 127.0.0.1, a free port."""
    from pybroadcast.listener import Listener

    listener = Listener(endpoint, max_size=max_size, **options)
    await listener.start("127.0.0.1", 0)
    return listener
