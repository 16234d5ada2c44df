"""pybroadcast.js recovers by itself, in a real browser: a cut connection, a reconnect to another
node, the missed messages in order, then a lost history reported as onRecovered(false)."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse

import pytest

from browser import Browser
from cut_proxy import CutProxy
from support import ROOT, free_port, php_command, short_tempdir
from test_cluster import Cluster


@pytest.fixture
def page_server():
    """`php -S` serving the test page and php/pybroadcast.js from one directory."""
    root, port = short_tempdir(), free_port()
    shutil.copy(ROOT / "php" / "pybroadcast.js", root)
    shutil.copy(ROOT / "tests" / "web" / "recover.html", root)
    server = subprocess.Popen(php_command("-S", f"127.0.0.1:{port}", "-t", root), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    for line in server.stderr:
        if "started" in line:
            break
    yield port
    server.terminate()
    server.wait(10)


def test_pybroadcast_js_recovers_after_a_cut_on_another_node(make_hub, redis_server, page_server) -> None:
    origin = f"http://127.0.0.1:{page_server}"
    cluster = Cluster(make_hub, redis_server, nodes=2, hub_config={"options": {"allowed_origins": origin}})
    first, second = cluster.hubs
    proxy, browser = CutProxy(first.port), Browser()
    try:
        ws_url = f"ws://127.0.0.1:{proxy.port}/ws?user=1"
        tab = browser.open(f"{origin}/recover.html?ws={urllib.parse.quote(ws_url)}")
        tab.wait_for("window.subscribed === 1")

        def broadcast(*texts: str) -> None:
            code = "".join(f"broadcast('feed', {json.dumps(t)});" for t in texts)
            result = cluster.php(code)
            assert result.returncode == 0, result.stderr

        broadcast("m1", "m2", "m3")
        tab.wait_for("window.received.length === 3")
        # The network drops; while it is down, more is published; it comes back through another node.
        proxy.pause()
        proxy.target_port = second.port
        proxy.cut()
        broadcast("m4", "m5", "m6", "m7")
        proxy.resume()
        tab.wait_for("window.subscribed === 2 && window.received.length === 7")
        broadcast("m8")
        tab.wait_for("window.received.length === 8")
        assert tab.evaluate("window.received") == [[i, f"m{i}"] for i in range(1, 9)]
        assert tab.evaluate("window.recoveries") == [True]

        # This time the history is lost while it is away (as if Redis had restarted empty).
        proxy.pause()
        proxy.cut()
        keys = redis_server.client().keys(f"{cluster.prefix}:history:feed:*")
        assert len(keys) == 2 and redis_server.client().delete(*keys) == 2
        broadcast("lost")
        proxy.resume()
        tab.wait_for("window.recoveries.length === 2")
        assert tab.evaluate("window.recoveries") == [True, False]
        broadcast("after")
        tab.wait_for("window.received.length === 9")
        assert tab.evaluate("window.received.at(-1)") == [2, "after"]  # a new epoch: "lost" was 1
    finally:
        proxy.close()
        browser.close()
