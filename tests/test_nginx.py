"""The README's nginx block, as written, in front of a real hub: a real nginx proxies the native
endpoint, pusher-js (the Pusher protocol) and the Pusher HTTP API to it."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from websockets.asyncio.client import connect

from support import ORIGIN, ROOT, Hub, free_port, recv_json, short_tempdir, subscribe
from test_pusher import PUSHER_OPTIONS, PusherJs, auth_endpoint, sdk  # noqa: F401 (auth_endpoint: a fixture)

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HUB_ADDRESS = "127.0.0.1:8080"  # where the README's block sends requests


def readme_block() -> str:
    """The README's nginx configuration, the one block of it users copy."""
    blocks = re.findall(r"```nginx\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert len(blocks) == 1 and HUB_ADDRESS in blocks[0], blocks
    return blocks[0]


@dataclass
class Proxy:
    port: int  # what clients connect to (the tests' helpers read a hub's `port`)


@pytest.fixture
def nginx() -> Iterator[Callable[[Hub], Proxy]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(hub: Hub) -> Proxy:
        prefix = short_tempdir()
        port = free_port()
        temp = "\n".join(f"    {kind}_temp_path {prefix}/{kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                                  "uwsgi", "scgi"))
        block = readme_block().replace(HUB_ADDRESS, f"127.0.0.1:{hub.port}")
        conf = f"{prefix}/nginx.conf"
        with open(conf, "w") as out:
            out.write(f"daemon off;\nmaster_process off;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n"
                      f"events {{ worker_connections 64; }}\nhttp {{\n    access_log off;\n{temp}\n"
                      f"    server {{\n        listen 127.0.0.1:{port};\n{block}    }}\n}}\n")
        process = subprocess.Popen([NGINX, "-p", prefix, "-e", f"{prefix}/error.log", "-c", conf],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        started.append(process)
        deadline = time.monotonic() + 10
        while True:  # nginx says nothing when it listens: its port answering is the event
            assert process.poll() is None, open(f"{prefix}/error.log").read()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return Proxy(port)
            except OSError:
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.01)

    yield start
    for process in started:
        process.terminate()
        process.wait(10)


async def test_the_readme_nginx_block_carries_the_native_endpoint_and_the_clients_address(hub: Hub, nginx) -> None:
    proxy = nginx(hub)
    async with connect(f"ws://127.0.0.1:{proxy.port}/ws?user=7", origin=ORIGIN, open_timeout=10) as ws:
        connected = await recv_json(ws)
        assert connected["event"] == "connected" and connected["user"] == "7"
        assert (await subscribe(ws, "news"))["event"] == "subscribed"
        assert hub.php("broadcast('news', 'through nginx');").returncode == 0
        message = await recv_json(ws)
        assert message["event"] == "message" and message["data"] == "through nginx"
    request = json.loads(hub.log.wait_for(r"HOOK authenticate (.*)")[0].group(1))
    # As the README says: the proxy's address in remote_addr, the browser's in X-Forwarded-For.
    assert request["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert request["headers"]["origin"] == ORIGIN and request["query"] == {"user": "7"}


async def test_pusher_js_and_the_pusher_http_api_through_the_readme_nginx_block(make_hub, nginx, auth_endpoint) -> None:
    hub = make_hub({"options": PUSHER_OPTIONS})
    proxy = nginx(hub)
    js = PusherJs(proxy, auth_endpoint, user="5")  # type: ignore[arg-type]
    try:
        js.send(op="subscribe", channel="private-orders-ok")  # authorized by the app's auth endpoint
        await js.until(type="subscribed", channel="private-orders-ok")
        # The SDK's signed POST /apps/{id}/events, through nginx (which adds "Connection: upgrade").
        assert await asyncio.to_thread(sdk(proxy).trigger, "private-orders-ok", "Shipped", {"id": 1}) == {}  # type: ignore[arg-type]
        assert (await js.until(type="event", event="Shipped"))["data"] == {"id": 1}
        channels = await asyncio.to_thread(sdk(proxy).channels_info)  # type: ignore[arg-type]
        assert "private-orders-ok" in channels["channels"]
    finally:
        js.close()
