"""The Pusher dialect with the real pusher-js 8 (tests/pusher, from npm) against a real hub.

Signatures come from a PHP auth endpoint that signs as Laravel's /broadcasting/auth
does (tests/php/pusher_auth.php, served by php -S). Where pusher-js cannot be
made to send a frame (a handshake cookie, a malformed frame) a raw WebSocket
client speaks the protocol.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from support import ROOT, Hub, client, free_port, php_command, recv_json, run_php, subscribe

KEY, SECRET, APP_ID = "app-key", "app-secret-do-not-log", "42"
NODE = shutil.which("node") or "node"
PUSHER_DIR = ROOT / "tests" / "pusher"


class PusherJs:
    """One pusher-js client (or, with script="echo.mjs", Laravel Echo over it) in a Node process."""

    def __init__(self, hub: Hub, auth_url: str, user: str = "", key: str = KEY, script: str = "client.mjs") -> None:
        self.process = subprocess.Popen([NODE, str(PUSHER_DIR / script), "127.0.0.1", str(hub.port), key,
                                         auth_url, user], cwd=PUSHER_DIR, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reports: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            try:
                report = json.loads(line)
            except ValueError:
                report = {"type": "output", "line": line.rstrip()}
            with self._cond:
                self.reports.append(report)
                self._cond.notify_all()

    def send(self, **command: Any) -> None:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def wait(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for report in self.reports:
                    if predicate(report):
                        return report
                if time.monotonic() > deadline:
                    raise AssertionError(f"no such report; got {self.reports}")
                self._cond.wait(deadline - time.monotonic())

    async def until(self, **fields: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self.wait, lambda r: all(r.get(k) == v for k, v in fields.items()))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture(scope="module")
def auth_endpoint() -> Any:
    port = free_port()
    web = subprocess.Popen(php_command("-S", f"127.0.0.1:{port}", "-t", str(ROOT / "tests" / "php")),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           env={"PUSHER_APP_KEY": KEY, "PUSHER_APP_SECRET": SECRET, "PATH": "/usr/bin:/bin"})
    for line in web.stderr:
        if "started" in line:
            break
    yield f"http://127.0.0.1:{port}/pusher_auth.php"
    web.terminate()
    web.wait(10)


@pytest.fixture
def pusher_hub(make_hub) -> Hub:
    return make_hub({"options": {"pusher_app_id": APP_ID, "pusher_key": KEY, "pusher_secret": SECRET,
                                 "allowed_origins": "*"}})


@pytest.fixture
def pusher_js(pusher_hub: Hub, auth_endpoint: str):
    made: list[PusherJs] = []

    def make(user: str = "", key: str = KEY) -> PusherJs:
        made.append(PusherJs(pusher_hub, auth_endpoint, user, key))
        return made[-1]

    yield make
    for one in made:
        one.close()


async def test_pusher_js_connects_with_a_pusher_socket_id(pusher_js) -> None:
    js = pusher_js()
    connected = await js.until(type="connected")
    assert re.fullmatch(r"\d+\.\d+", connected["socket_id"])
    await js.until(type="state", state="connected")


async def test_a_broadcast_reaches_pusher_and_native_subscribers_with_its_event_name(pusher_hub: Hub, pusher_js) -> None:
    js = pusher_js()
    js.send(op="subscribe", channel="orders")
    await js.until(type="subscribed", channel="orders")
    native = await client(pusher_hub, "1")
    await subscribe(native, "orders")
    assert pusher_hub.php("broadcast('orders', '{\"id\":1}', 'App\\\\Events\\\\OrderShipped'); broadcast('orders', 'plain');").returncode == 0
    shipped = await js.until(type="event", event="App\\Events\\OrderShipped")
    assert shipped["channel"] == "orders" and shipped["data"] == {"id": 1}
    assert (await js.until(type="event", event="message"))["data"] == "plain"  # no name: "message"
    assert (await recv_json(native))["name"] == "App\\Events\\OrderShipped"
    await native.close()


async def test_cache_channels_give_the_newest_message_on_subscribe_or_a_cache_miss(pusher_hub: Hub, pusher_js) -> None:
    js = pusher_js()
    js.send(op="subscribe", channel="cache-empty")
    await js.until(type="cache_miss", channel="cache-empty")
    assert pusher_hub.php("broadcast('cache-prices', '{\"p\":1}', 'Price'); broadcast('cache-prices', '{\"p\":2}', 'Price');"
                          " broadcast('prices', 'not a cache channel');").returncode == 0
    js.send(op="subscribe", channel="cache-prices")
    js.send(op="subscribe", channel="prices")
    cached = await js.until(type="event", channel="cache-prices")
    assert (cached["event"], cached["data"]) == ("Price", {"p": 2})  # the newest only
    subscribed = await js.until(type="subscribed", channel="cache-prices")
    assert js.reports.index(subscribed) < js.reports.index(cached)
    assert pusher_hub.php("broadcast('cache-prices', '{\"p\":3}', 'Price'); broadcast('prices', 'live');").returncode == 0
    await js.until(type="event", channel="prices", data="live")
    assert [r["data"] for r in js.reports if r.get("channel") == "cache-prices" and r["type"] == "event"] == [
        {"p": 2}, {"p": 3}]
    assert not [r for r in js.reports if r.get("channel") == "prices" and r["type"] in ("event", "cache_miss")
                and r.get("data") != "live"]  # an ordinary channel replays nothing


async def test_private_channels_take_a_valid_signature_and_refuse_others(pusher_js) -> None:
    js = pusher_js(user="5")
    js.send(op="subscribe", channel="private-user-5")
    await js.until(type="subscribed", channel="private-user-5")
    js.send(op="subscribe", channel="private-user-6")  # the auth endpoint refuses: pusher-js reports it
    await js.until(type="subscription_error", channel="private-user-6")
    await js.until(type="connected")
    forged = f"{KEY}:" + "0" * 64
    js.send(op="subscribe", channel="private-x-ok", auth=forged)
    assert (await js.until(type="subscription_error", channel="private-x-ok"))["status"] == 403


async def test_a_signature_for_another_socket_is_refused(pusher_hub: Hub, pusher_js) -> None:
    """A replayed signature: valid, but made for another connection's socket_id."""
    signature = hmac.new(SECRET.encode(), b"1.1:private-x-ok", hashlib.sha256).hexdigest()
    js = pusher_js(user="5")
    js.send(op="subscribe", channel="private-x-ok", auth=f"{KEY}:{signature}")
    assert (await js.until(type="subscription_error", channel="private-x-ok"))["status"] == 403
    assert not pusher_hub.log.matching(SECRET), "the secret reached the log"


async def test_presence_lists_members_and_reports_joins_and_leaves_once(pusher_hub: Hub, pusher_js) -> None:
    channel = "presence-room-ok"
    first, second = pusher_js(user="7"), pusher_js(user="8")
    first.send(op="subscribe", channel=channel)
    assert (await first.until(type="subscribed", channel=channel))["members"] == {"7": {"name": "User 7"}}
    second.send(op="subscribe", channel=channel)
    assert (await second.until(type="subscribed", channel=channel))["members"] == {"7": {"name": "User 7"},
                                                                                   "8": {"name": "User 8"}}
    added = await first.until(type="member_added", channel=channel)
    assert added["id"] == "8" and added["info"] == {"name": "User 8"}
    assert sorted(json.loads(pusher_hub.php(f"echo json_encode(getChannelUsers('{channel}'));").stdout)) == ["7", "8"]
    await pusher_hub.log.await_for(rf"HOOK join 8 {channel}$")
    second.close()
    assert (await first.until(type="member_removed", channel=channel))["id"] == "8"
    await pusher_hub.log.await_for(rf"HOOK leave 8 {channel}$")
    assert len(pusher_hub.log.matching(rf"HOOK join 8 {channel}$")) == 1


async def test_signin_then_broadcast_to_user_and_disconnect_user(pusher_hub: Hub, pusher_js) -> None:
    js = pusher_js(user="9")
    await js.until(type="connected")
    await pusher_hub.log.await_for(r"connected user=None")  # anonymous until it signs in
    js.send(op="signin")
    await pusher_hub.log.await_for(r"identified user=9 ")
    await js.until(type="user_ready", channel="#server-to-user-9")
    pusher_hub.php("broadcastToUser(9, '{\"n\":1}', 'Notice');")
    report = await js.until(type="user_event")
    assert report["event"] == "Notice" and report["data"] == {"n": 1}
    pusher_hub.php("disconnectUser(9);")
    await js.until(type="state", state="disconnected")
    await pusher_hub.log.await_for(r"disconnected user=9 .*code=4009")


async def test_an_unknown_app_key_is_told_4001_and_closed(pusher_js) -> None:
    js = pusher_js(key="not-the-key")
    await js.until(type="error", code=4001)
    await asyncio.to_thread(js.wait, lambda r: r.get("state") in ("failed", "disconnected", "unavailable"))


async def _raw(hub: Hub, path: str = f"/app/{KEY}?protocol=7", **kwargs: Any) -> Any:
    ws = await connect(f"ws://127.0.0.1:{hub.port}{path}", origin="http://app.test", **kwargs)
    established = json.loads(await ws.recv())
    assert established["event"] == "pusher:connection_established"
    data = json.loads(established["data"])
    assert data["activity_timeout"] > 0
    ws.socket_id = data["socket_id"]
    return ws


async def test_ping_pong_and_bad_frames_keep_the_connection(pusher_hub: Hub) -> None:
    ws = await _raw(pusher_hub)
    for bad, code in (("not json", 4200), ('{"no":"event"}', 4200), ('{"event":"pusher:nope"}', 4200),
                      ('{"event":"client-typing","channel":"private-x","data":{}}', 4301)):
        await ws.send(bad)
        answer = json.loads(await ws.recv())
        assert answer["event"] == "pusher:error" and answer["data"]["code"] == code, answer
    await ws.send('{"event":"pusher:ping","data":{}}')
    assert json.loads(await ws.recv()) == {"event": "pusher:pong", "data": {}}
    await ws.close()


async def test_a_connection_identified_at_the_handshake_is_authorized_in_process(pusher_hub: Hub) -> None:
    """Empty auth + a session cookie: onAuthorize decides, no HTTP round trip; anonymous is refused."""
    ws = await _raw(pusher_hub, additional_headers={"Cookie": "user=5"})
    await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": "private-user-5", "auth": ""}}))
    assert json.loads(await ws.recv())["event"] == "pusher_internal:subscription_succeeded"
    await pusher_hub.log.await_for(r"HOOK authorize 5 private-user-5")
    await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": "private-user-6", "auth": ""}}))
    refused = json.loads(await ws.recv())
    assert refused["event"] == "pusher:subscription_error" and json.loads(refused["data"])["status"] == 403
    anonymous = await _raw(pusher_hub)
    await anonymous.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": "private-user-5", "auth": ""}}))
    assert json.loads(await anonymous.recv())["event"] == "pusher:subscription_error"
    await anonymous.send(json.dumps({"event": "pusher:subscribe", "data": "{\"channel\":\"news\"}"}))  # data as a string
    assert json.loads(await anonymous.recv())["event"] == "pusher_internal:subscription_succeeded"
    for each in (ws, anonymous):
        await each.close()


async def test_an_array_from_on_authorize_becomes_the_member_user_info(make_hub) -> None:
    hub = make_hub({"authorize": "return:['name' => 'Ann', 'role' => \"\\xc3\\xa9diteur\"]",
                    "options": {"pusher_key": KEY, "pusher_secret": SECRET, "allowed_origins": "*"}})
    ws = await _raw(hub, additional_headers={"Cookie": "user=5"})
    await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": "presence-lobby", "auth": ""}}))
    succeeded = json.loads(await ws.recv())
    assert succeeded["event"] == "pusher_internal:subscription_succeeded", succeeded
    assert json.loads(succeeded["data"])["presence"] == {"ids": ["5"], "hash": {"5": {"name": "Ann", "role": "éditeur"}},
                                                         "count": 1}
    await ws.close()


async def test_without_a_pusher_key_the_endpoint_is_404(hub: Hub) -> None:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as caught:
        await connect(f"ws://127.0.0.1:{hub.port}/app/{KEY}", origin="http://app.test")
    assert caught.value.response.status_code == 404


async def test_disconnect_user_closes_a_pusher_connection_with_4009(pusher_hub: Hub) -> None:
    ws = await _raw(pusher_hub, additional_headers={"Cookie": "user=5"})
    pusher_hub.php("disconnectUser(5);")
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 4009


# --- the HTTP API, driven by the official Pusher server SDK (PyPI: pusher) -----------------------

def signed_events_target(body: bytes, timestamp: int | None = None) -> str:
    """Path and signed query of a POST /apps/{id}/events carrying `body`, signed as the Pusher SDKs do."""
    stamp = int(time.time()) if timestamp is None else timestamp
    query = f"auth_key={KEY}&auth_timestamp={stamp}&auth_version=1.0&body_md5={hashlib.md5(body).hexdigest()}"
    path = f"/apps/{APP_ID}/events"
    signature = hmac.new(SECRET.encode(), f"POST\n{path}\n{query}".encode(), hashlib.sha256).hexdigest()
    return f"{path}?{query}&auth_signature={signature}"


def post_signed(hub: Hub, body: bytes, timestamp: int | None = None, tamper: bytes = b"") -> tuple[int, bytes]:
    """(status, body) of a signed events request; `tamper` is added to the body after signing."""
    request = urllib.request.Request(f"http://127.0.0.1:{hub.port}{signed_events_target(body, timestamp)}",
                                     data=body + tamper, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def sdk(hub: Hub, secret: str = SECRET, app_id: str = APP_ID):
    import pusher

    return pusher.Pusher(app_id=app_id, key=KEY, secret=secret, host="127.0.0.1", port=hub.port, ssl=False,
                         timeout=10)


async def test_http_api_trigger_reaches_subscribers_except_the_given_socket(pusher_hub: Hub, pusher_js) -> None:
    first, second = pusher_js(), pusher_js()
    for js in (first, second):
        js.send(op="subscribe", channel="news")
        await js.until(type="subscribed", channel="news")
    native = await client(pusher_hub, "1")
    await subscribe(native, "news")
    excluded = (await first.until(type="connected"))["socket_id"]
    assert await asyncio.to_thread(sdk(pusher_hub).trigger, ["news", "other"], "Updated", {"v": 1}, excluded) == {}
    assert (await second.until(type="event", event="Updated"))["data"] == {"v": 1}
    got = await recv_json(native)
    assert got["event"] == "message" and got["name"] == "Updated" and json.loads(got["data"]) == {"v": 1}
    await asyncio.to_thread(sdk(pusher_hub).trigger, "news", "Marker", "after")
    await second.until(type="event", event="Marker")
    await first.until(type="event", event="Marker")
    assert not [r for r in first.reports if r.get("event") == "Updated"], "toOthers(): the publisher got its own event"
    await native.close()


async def test_http_api_batch_and_queries(pusher_hub: Hub, pusher_js) -> None:
    js = pusher_js(user="7")
    js.send(op="subscribe", channel="presence-room-ok")
    await js.until(type="subscribed", channel="presence-room-ok")
    api = sdk(pusher_hub)
    await asyncio.to_thread(api.trigger_batch, [{"channel": "presence-room-ok", "name": "One", "data": "1"},
                                                 {"channel": "presence-room-ok", "name": "Two", "data": "2"}])
    await js.until(type="event", event="One")
    await js.until(type="event", event="Two")
    channels = await asyncio.to_thread(api.channels_info, "presence-", ["user_count"])
    assert channels == {"channels": {"presence-room-ok": {"user_count": 1}}}
    info = await asyncio.to_thread(api.channel_info, "presence-room-ok", ["user_count", "subscription_count"])
    assert info == {"occupied": True, "user_count": 1, "subscription_count": 1}
    assert await asyncio.to_thread(api.users_info, "presence-room-ok") == {"users": [{"id": "7"}]}


async def test_http_api_terminate_connections(pusher_hub: Hub) -> None:
    ws = await _raw(pusher_hub, additional_headers={"Cookie": "user=5"})
    assert await asyncio.to_thread(sdk(pusher_hub).terminate_user_connections, "5") == {}
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 4009


async def test_http_api_refuses_a_forged_replayed_or_stale_request(pusher_hub: Hub) -> None:
    import pusher

    with pytest.raises(pusher.errors.PusherBadAuth):
        await asyncio.to_thread(sdk(pusher_hub, secret="wrong").trigger, "news", "x", "y")
    body = json.dumps({"name": "x", "data": "y", "channels": ["news"]}).encode()
    assert post_signed(pusher_hub, body)[0] == 200
    assert post_signed(pusher_hub, body, int(time.time()) - 3600)[0] == 401  # replayed an hour later
    assert post_signed(pusher_hub, body, tamper=b" ")[0] == 401  # body changed after signing
    bad = json.dumps({"name": "x", "data": "y", "channels": ["ok", "not ok"]}).encode()
    assert post_signed(pusher_hub, bad)[0] == 400  # nothing half-published: "ok" got nothing either
    assert not pusher_hub.log.matching(SECRET)


async def test_without_a_pusher_key_the_http_api_is_404(hub: Hub) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"http://127.0.0.1:{hub.port}/apps/{APP_ID}/channels", timeout=10)
    assert caught.value.code == 404


def test_http_api_body_in_a_later_packet_is_read_and_a_short_one_refused(pusher_hub: Hub) -> None:
    import socket as sockets

    body = json.dumps({"name": "x", "data": "y", "channels": ["news"]}).encode()
    head = (f"POST {signed_events_target(body)} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()

    def exchange(*parts: bytes, half_close: bool = False) -> bytes:
        with sockets.create_connection(("127.0.0.1", pusher_hub.port), timeout=10) as sock:
            for part in parts:
                sock.sendall(part)
                time.sleep(0.05)  # separate packets: the point of the test, not synchronisation
            if half_close:
                sock.shutdown(sockets.SHUT_WR)
            return sock.recv(65536)

    assert exchange(head, body).startswith(b"HTTP/1.1 200 ")
    assert exchange(head, body[:10], half_close=True).startswith(b"HTTP/1.1 400 ")


async def test_client_events_reach_the_other_members_with_user_id_within_the_rate(make_hub, auth_endpoint) -> None:
    hub = make_hub({"options": {"pusher_app_id": APP_ID, "pusher_key": KEY, "pusher_secret": SECRET,
                                "allowed_origins": "*", "client_events": "members"}})
    channel = "presence-chat-ok"
    typer, other = PusherJs(hub, auth_endpoint, "7"), PusherJs(hub, auth_endpoint, "8")
    try:
        for js in (typer, other):
            js.send(op="subscribe", channel=channel)
            await js.until(type="subscribed", channel=channel)
        typer.send(op="trigger", channel=channel, event="client-typing", data={"typing": True})
        assert (await other.until(type="event", event="client-typing"))["data"] == {"typing": True}
        for _ in range(15):  # over Pusher's 10 a second
            typer.send(op="trigger", channel=channel, event="client-typing", data={"typing": True})
        await typer.until(type="error", code=4301)
        assert not [r for r in typer.reports if r.get("event") == "client-typing"], "the sender heard itself"
    finally:
        typer.close()
        other.close()

    listener, sender = await _raw(hub), await _raw(hub)  # the frame itself: user_id on a presence channel
    for member, conn in (("1", listener), ("2", sender)):
        data = json.dumps({"user_id": member})
        signature = hmac.new(SECRET.encode(), f"{conn.socket_id}:{channel}:{data}".encode(), hashlib.sha256).hexdigest()
        await conn.send(json.dumps({"event": "pusher:subscribe",
                                    "data": {"channel": channel, "auth": f"{KEY}:{signature}", "channel_data": data}}))
        assert json.loads(await conn.recv())["event"] == "pusher_internal:subscription_succeeded"
    await sender.send(json.dumps({"event": "client-typing", "channel": channel, "data": {"t": 1}}))
    while (frame := json.loads(await listener.recv()))["event"] != "client-typing":
        pass
    assert frame == {"event": "client-typing", "channel": channel, "data": '{"t": 1}', "user_id": "2"}
    for conn in (listener, sender):
        await conn.close()


# --- Laravel Echo 2 (tests/pusher/echo.mjs), on one node and on three nodes with Redis -----------

PUSHER_OPTIONS = {"pusher_app_id": APP_ID, "pusher_key": KEY, "pusher_secret": SECRET, "allowed_origins": "*",
                  "client_events": "members"}


class Nodes(list):
    """The hubs of a test, and how an app process reaches them."""

    def __init__(self, hubs: list[Hub], ini: dict[str, str]) -> None:
        super().__init__(hubs)
        self.ini = ini

    def php(self, code: str) -> None:
        result = run_php(code, ini=self.ini)
        assert result.returncode == 0 and not result.stderr, result.stdout + result.stderr


@pytest.fixture(params=["one node", "three nodes on redis"])
def echo_hubs(request, make_hub) -> Nodes:
    if request.param == "one node":
        hub = make_hub({"options": PUSHER_OPTIONS})
        return Nodes([hub], hub.ini)
    from test_cluster import Cluster

    cluster = Cluster(make_hub, request.getfixturevalue("redis_server"), nodes=3, hub_config={"options": PUSHER_OPTIONS})
    return Nodes(cluster.hubs, cluster.ini)


@pytest.fixture
def echo(auth_endpoint):
    made: list[PusherJs] = []

    def make(hub: Hub, user: str) -> PusherJs:
        made.append(PusherJs(hub, auth_endpoint, user, script="echo.mjs"))
        return made[-1]

    yield make
    for one in made:
        one.close()


async def test_echo_listen_private_and_to_others(echo_hubs: Nodes, echo) -> None:
    ann, bob = echo(echo_hubs[0], "5"), echo(echo_hubs[-1], "6")
    for js in (ann, bob):
        js.send(op="listen", kind="channel", channel="orders", event="OrderShipped")  # namespaced: App\Events\…
        await js.until(type="subscribed", channel="orders")
    ann.send(op="listen", kind="private", channel="user-5", event=".Notice")  # leading dot: the name as is
    await ann.until(type="subscribed", channel="user-5")
    app = echo_hubs[0]
    echo_hubs.php("broadcast('orders', '{\"id\":7}', 'App\\\\Events\\\\OrderShipped'); broadcast('private-user-5', '\"hi\"', 'Notice');")
    for js in (ann, bob):
        assert (await js.until(type="heard", event="OrderShipped"))["data"] == {"id": 7}
    assert (await ann.until(type="heard", event=".Notice"))["data"] == "hi"
    # toOthers(): Laravel sends the X-Socket-ID Echo adds as socket_id; the sender does not hear its own event
    socket_id = (await ann.until(type="connected"))["socket_id"]
    await asyncio.to_thread(sdk(app).trigger, "orders", "App\\Events\\OrderShipped", {"id": 8}, socket_id)
    assert (await asyncio.to_thread(bob.wait, lambda r: r.get("type") == "heard" and r["data"] == {"id": 8}))
    await asyncio.to_thread(sdk(app).trigger, "orders", "App\\Events\\OrderShipped", {"id": 9})
    await asyncio.to_thread(ann.wait, lambda r: r.get("type") == "heard" and r["data"] == {"id": 9})
    assert not [r for r in ann.reports if r.get("type") == "heard" and r["data"] == {"id": 8}]


async def test_echo_presence_here_joining_leaving_and_whispers(echo_hubs: Nodes, echo) -> None:
    ann = echo(echo_hubs[0], "7")
    ann.send(op="join", channel="room-ok")
    assert (await ann.until(type="here"))["users"] == [{"name": "User 7"}]
    ann.send(op="listenForWhisper", kind="join", channel="room-ok", event="typing")
    bob = echo(echo_hubs[-1], "8")
    bob.send(op="join", channel="room-ok")
    assert sorted(u["name"] for u in (await bob.until(type="here"))["users"]) == ["User 7", "User 8"]
    assert (await ann.until(type="joining"))["user"] == {"name": "User 8"}
    bob.send(op="whisper", kind="join", channel="room-ok", event="typing", data={"who": "bob"})
    assert (await ann.until(type="whisper"))["data"] == {"who": "bob"}
    bob.close()
    assert (await ann.until(type="leaving"))["user"] == {"name": "User 8"}
    hooks = [line for hub in echo_hubs for line in hub.log.matching(r"^HOOK (join|leave) 8 presence-room-ok$")]
    assert sorted(hooks) == ["HOOK join 8 presence-room-ok", "HOOK leave 8 presence-room-ok"]


async def test_a_hub_shutting_down_tells_pusher_clients_4200_reconnect_and_native_ones_1001(pusher_hub: Hub) -> None:
    pusher_ws = await _raw(pusher_hub)
    native = await client(pusher_hub, "1")
    pusher_hub.stop()
    for ws in (pusher_ws, native):
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
    assert (pusher_ws.close_code, native.close_code) == (4200, 1001)


async def test_a_lone_surrogate_in_signed_fields_is_refused_not_a_crash(pusher_hub: Hub) -> None:
    """JSON may carry "\\ud800", which is no UTF-8: it must be a refusal, never a 1011 (found by make fuzz)."""
    ws = await _raw(pusher_hub)
    await ws.send('{"event":"pusher:signin","data":{"auth":"k:x","user_data":"{\\"id\\":\\"\\ud800\\"}"}}')
    assert json.loads(await ws.recv())["data"]["code"] == 4009
    await ws.send('{"event":"pusher:subscribe","data":{"channel":"presence-x","auth":"k:\\ud800",'
                  '"channel_data":"{\\"user_id\\":\\"\\ud800\\"}"}}')
    assert json.loads(await ws.recv())["event"] == "pusher:subscription_error"
    await ws.send('{"event":"pusher:ping","data":{}}')
    assert json.loads(await ws.recv())["event"] == "pusher:pong"  # still open
    await ws.close()
    status, answer = post_signed(pusher_hub, b'{"name":"x","data":"\\ud800","channels":["news"]}')
    assert status == 400 and b"not valid UTF-8" in answer
    assert not pusher_hub.log.matching(r"Traceback|connection handler failed")
