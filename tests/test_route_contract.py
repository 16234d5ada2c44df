"""The AppRoute contract (pybroadcast/drivers/route.py), run against every route.

Each route talks to a real hub: a Runtime started in this process (no PHP, so
no callbacks: connections authenticate through ``auth_url``, served here) with
real WebSocket clients, and a real redis-server for the Redis routes.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import threading
import time
from typing import Any, Callable, Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from pybroadcast import drivers, settings as settings_mod
from pybroadcast.drivers.route import AppRoute
from pybroadcast.errors import NOT_SENT, BroadcastError, Unreachable
from pybroadcast.events import DIRECT, DISCONNECT, MESSAGE, Event
from pybroadcast.runtime import Runtime
from support import free_port, short_tempdir


class AuthServer(http.server.ThreadingHTTPServer):
    """auth_url: the user is the cookie "user"."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                user = self.headers.get("Cookie", "").partition("user=")[2]
                body = json.dumps({"user_id": user or None}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def auth_server() -> Iterator[AuthServer]:
    server = AuthServer()
    yield server
    server.shutdown()


class Node:
    """A running hub in this process and the route under test."""

    def __init__(self, options: dict[str, Any], auth: AuthServer, make_route: Callable[[Runtime], AppRoute]) -> None:
        self.port = free_port()
        self.options = {"listen": f"127.0.0.1:{self.port}", "allowed_origins": "*",
                        "auth_url": f"http://127.0.0.1:{auth.server_address[1]}/", **options}
        self.runtime = Runtime(self.options, {}, [])
        self.runtime.start()
        self.route = make_route(self.runtime)

    async def client(self, user: str) -> Any:
        ws = await connect(f"ws://127.0.0.1:{self.port}/ws", additional_headers={"Cookie": f"user={user}"})
        assert json.loads(await ws.recv())["event"] == "connected"
        return ws

    async def call(self, method: str, *args: Any) -> Any:
        return await asyncio.to_thread(getattr(self.route, method), *args)

    def stop(self) -> None:
        self.runtime.stop()
        assert self.runtime.join(10)


def _app_route(runtime: Runtime) -> AppRoute:
    return drivers.app_route(runtime.settings)


ROUTES = {
    "memory-socket": ({"driver": "memory"}, _app_route),
    "memory-in-hub": ({"driver": "memory"}, lambda runtime: runtime.route),
    "redis": ({"driver": "redis"}, _app_route),
    "redis-in-hub": ({"driver": "redis"}, lambda runtime: runtime.route),
}


@pytest.fixture(params=sorted(ROUTES))
def node(request, auth_server) -> Iterator[Node]:
    options, make_route = ROUTES[request.param]
    options = dict(options)
    if options["driver"] == "redis":
        server = request.getfixturevalue("redis_server")
        options.update(redis_url=server.url, redis_prefix=f"route{os.getpid()}-{request.node.name}")
    else:
        options["socket"] = os.path.join(short_tempdir(), "hub.sock")
    node = Node(options, auth_server, make_route)
    yield node
    if not node.runtime.finished:
        node.stop()


async def subscribe(ws: Any, channel: str) -> None:
    await ws.send(json.dumps({"action": "subscribe", "channel": channel}))
    assert json.loads(await ws.recv())["event"] == "subscribed"


async def test_publish_reaches_the_channel_byte_identical_and_in_order(node: Node) -> None:
    subscriber, bystander = await node.client("1"), await node.client("2")
    await subscribe(subscriber, "news")
    await subscribe(bystander, "other")
    text = 'héllo "wörld" <b>x</b> 🎉'
    await node.call("publish", Event(MESSAGE, "news", text))
    for i in range(100):
        await node.call("publish", Event(MESSAGE, "news", str(i)))
    first = json.loads(await subscriber.recv())
    assert first.pop("epoch")  # the channel's first message announces its epoch
    assert first == {"event": "message", "channel": "news", "offset": 1, "data": text}
    received = [json.loads(await subscriber.recv()) for _ in range(100)]
    assert [(e["offset"], e["data"]) for e in received] == [(i + 2, str(i)) for i in range(100)]
    await node.call("publish", Event(MESSAGE, "other", "only for the bystander"))
    assert json.loads(await bystander.recv())["data"] == "only for the bystander"  # nothing of "news" came first


async def test_an_event_name_travels_with_the_message(node: Node) -> None:
    subscriber, user = await node.client("1"), await node.client("7")
    await subscribe(subscriber, "orders")
    await node.call("publish", Event(MESSAGE, "orders", '{"id":1}', "App\\Events\\OrderShipped"))
    await node.call("publish", Event(DIRECT, "7", "hi", "Greeting"))
    shipped = json.loads(await subscriber.recv())
    assert shipped.pop("epoch") and shipped == {"event": "message", "channel": "orders", "offset": 1,
                                                "name": "App\\Events\\OrderShipped", "data": '{"id":1}'}
    assert json.loads(await user.recv()) == {"event": "direct", "name": "Greeting", "data": "hi"}


async def test_history_is_what_was_published_with_the_offsets_subscribers_saw(node: Node) -> None:
    subscriber = await node.client("1")
    await subscribe(subscriber, "log")
    for i in range(5):
        await node.call("publish", Event(MESSAGE, "log", f"é{i}", "Named" if i == 3 else ""))
    seen = [json.loads(await subscriber.recv()) for _ in range(5)]
    page = await node.call("history", "log", 3)
    assert page.top == 5 and page.epoch
    assert [(e.offset, e.data, e.name) for e in page.events] == [(3, "é2", ""), (4, "é3", "Named"), (5, "é4", "")]
    assert [(e["offset"], e["data"]) for e in seen[2:]] == [(e.offset, e.data) for e in page.events]
    assert (await node.call("history", "never-used", 10)).events == ()


async def test_history_off_answers_none(auth_server, request) -> None:
    """history_size 0 on the hub: every route says there is no history (the app's own setting
    matters to the Redis route, which publishes directly)."""
    options = {"driver": "memory", "socket": os.path.join(short_tempdir(), "hub.sock"), "history_size": 0}
    node = Node(options, auth_server, _app_route)
    try:
        for route in (node.route, node.runtime.route):
            assert await asyncio.to_thread(route.history, "log", 10) is None
    finally:
        node.stop()


async def test_direct_reaches_every_connection_of_the_user(node: Node) -> None:
    tabs, other = [await node.client("7"), await node.client("7")], await node.client("8")
    await node.call("publish", Event(DIRECT, "7", "for seven"))
    await node.call("publish", Event(DIRECT, "8", "for eight"))
    for tab in tabs:
        assert json.loads(await tab.recv()) == {"event": "direct", "data": "for seven"}
    assert json.loads(await other.recv()) == {"event": "direct", "data": "for eight"}


async def test_disconnect_closes_every_connection_of_the_user_with_4001(node: Node) -> None:
    tabs, other = [await node.client("7"), await node.client("7")], await node.client("8")
    await node.call("publish", Event(DISCONNECT, "7"))
    for tab in tabs:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(tab.recv(), 10)
        assert tab.close_code == 4001
    await subscribe(other, "still-open")


async def test_members_lists_each_present_user_once(node: Node) -> None:
    clients = [await node.client(u) for u in ("1", "1", "2")]
    for ws in clients:
        await subscribe(ws, "room")
    assert sorted(await node.call("members", "room")) == ["1", "2"]
    assert await node.call("members", "empty") == []
    await clients[2].close()
    deadline = time.monotonic() + 10
    while await node.call("members", "room") != ["1"]:
        assert time.monotonic() < deadline, "user 2 still listed after closing"
        await asyncio.sleep(0.02)


async def test_a_route_whose_hub_or_broker_is_gone_fails_fast_and_names_it(node: Node) -> None:
    node.stop()
    if node.route is node.runtime.route:
        route, target = node.route, "the hub in this process"
    elif node.options["driver"] == "redis":
        dead = settings_mod.resolve({**node.options, "redis_url": f"redis://127.0.0.1:{free_port()}/0"}, {}, {})
        route, target = drivers.app_route(dead), dead.redis_url
    else:
        route, target = node.route, node.options["socket"]
    started = time.monotonic()
    with pytest.raises(Unreachable) as caught:
        await asyncio.to_thread(route.publish, Event(MESSAGE, "news", "lost?"))
    assert caught.value.code == NOT_SENT and target in str(caught.value)
    with pytest.raises(BroadcastError):
        await asyncio.to_thread(route.members, "room")
    assert time.monotonic() - started < 5  # about a second each; generous on a loaded machine
