"""The demo app in a real browser: log in, live messages, who is online (headless Chromium)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from browser import Browser
from support import ROOT, free_port, php_command, php_string, run_php, short_tempdir

TRICKY = 'héllo "wörld" <b>not bold</b> & <script>alert(1)</script> 🎉'


@pytest.fixture
def demo(make_hub):
    sessions = short_tempdir()
    web_port, hub_port = free_port(), None
    origins = f"http://localhost:{web_port} http://127.0.0.1:{web_port}"
    shared = {"DEMO_SESSION_DIR": sessions, "PUSHER_APP_SECRET": "demo-test-secret"}
    hub = make_hub({"options": {"allowed_origins": origins}}, script=str(ROOT / "php" / "server.php"), env=shared)
    hub_port = hub.port
    web = subprocess.Popen(
        php_command("-S", f"0.0.0.0:{web_port}", "-t", str(ROOT / "php"), ini=hub.ini),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **shared, "DEMO_HUB_PORT": str(hub_port)})
    for line in web.stderr:
        if "started" in line:
            break
    browser = Browser()
    yield hub, web_port, browser
    browser.close()
    web.terminate()
    web.wait(10)


def online(tab) -> list[str]:
    return tab.evaluate("[...document.querySelectorAll('#online li')].map(li => li.textContent)")


def shown(text: str) -> str:
    return f"[...document.querySelectorAll('#messages li')].some(li => li.textContent === {json.dumps(text)})"


def test_demo_page_live_messages_and_who_is_online(demo) -> None:
    hub, web_port, browser = demo
    alice = browser.open(f"http://localhost:{web_port}/login.php?user=alice")
    alice.wait_for("document.getElementById('status')?.textContent === 'connected as alice'")
    alice.wait_for("document.querySelectorAll('#online li').length === 1")
    assert online(alice) == ["alice"]

    bob = browser.open(f"http://127.0.0.1:{web_port}/login.php?user=bob")  # another host: its own cookie
    bob.wait_for("document.getElementById('status')?.textContent === 'connected as bob'")
    alice.wait_for("document.querySelectorAll('#online li').length === 2")  # live, no reload
    assert online(alice) == ["alice", "bob"]
    bob.wait_for("document.querySelectorAll('#online li').length === 2")

    # broadcast() from another PHP process reaches both pages, shown exactly as text.
    result = run_php(f"broadcast('news', {php_string(TRICKY)});", ini=hub.ini)
    assert result.returncode == 0, result.stderr
    for tab in (alice, bob):
        tab.wait_for(shown(TRICKY))
    assert alice.evaluate("document.querySelectorAll('#messages b, #messages script').length") == 0

    # The send form posts to send.php, which broadcasts.
    bob.evaluate("document.querySelector('#send [name=message]').value = 'typed by bob'")
    bob.evaluate("document.querySelector('#send button').click()")
    alice.wait_for(shown("typed by bob"))

    # broadcastToUser() reaches only that user.
    run_php("broadcastToUser('bob', 'just for bob');", ini=hub.ini)
    bob.wait_for("[...document.querySelectorAll('#messages li.direct')].some(li => li.textContent === 'just for bob')")
    run_php("broadcast('news', 'marker');", ini=hub.ini)
    alice.wait_for(shown("marker"))
    assert not alice.evaluate(shown("just for bob"))

    os.makedirs(ROOT / "build", exist_ok=True)
    alice.screenshot(str(ROOT / "build" / "demo-alice.png"))

    bob.close()  # closing the tab leaves the presence channel
    alice.wait_for("document.querySelectorAll('#online li').length === 1")
    assert online(alice) == ["alice"]
    hub.log.wait_for(r"bob left presence-lobby")
    alice.close()
    assert not hub.log.matching(r"Warning|Notice|Deprecated|Traceback"), hub.log.lines


def test_the_echo_page_and_the_native_page_chat_live_at_once(demo) -> None:
    """php/echo.php (Laravel Echo over the Pusher protocol, authorized in process from the
    session cookie) and index.php (pybroadcast.js) share the chat and who is online."""
    hub, web_port, browser = demo
    alice = browser.open(f"http://localhost:{web_port}/login.php?user=alice")
    alice.wait_for("document.getElementById('status')?.textContent === 'connected as alice'")
    echo = browser.open(f"http://localhost:{web_port}/echo.php")  # alice again, same session, with Echo
    echo.wait_for("document.getElementById('status')?.textContent === 'connected as alice'")
    echo.wait_for("document.querySelectorAll('#online li').length === 1")
    bob = browser.open(f"http://127.0.0.1:{web_port}/login.php?user=bob")
    bob.wait_for("document.getElementById('status')?.textContent === 'connected as bob'")
    echo.wait_for("document.querySelectorAll('#online li').length === 2")  # Echo's joining(), live
    assert online(echo) == ["alice", "bob"]

    bob.evaluate("document.querySelector('#send [name=message]').value = 'from the native page'")
    bob.evaluate("document.querySelector('#send button').click()")
    echo.wait_for(shown("from the native page"))
    # The Echo page sends with X-Socket-ID: the app publishes through the Pusher HTTP API
    # toOthers(); the page shows its own message at once, and the hub never echoes it back.
    echo.evaluate("document.querySelector('#send [name=message]').value = 'from the Echo page'")
    echo.evaluate("document.querySelector('#send button').click()")
    bob.wait_for(shown("from the Echo page"))
    run_php("broadcast('news', 'marker');", ini=hub.ini)
    echo.wait_for(shown("marker"))
    assert echo.evaluate("[...document.querySelectorAll('#messages li')].filter(li => li.textContent === 'from the Echo page').length") == 1

    # Echo.private(): a notice for alice only
    bob_echo = browser.open(f"http://127.0.0.1:{web_port}/echo.php")
    bob_echo.wait_for("document.getElementById('status')?.textContent === 'connected as bob'")
    run_php("broadcast('private-user-alice', '\"a notice for alice\"', 'Notice');", ini=hub.ini)
    echo.wait_for("[...document.querySelectorAll('#messages li.direct')].some(li => li.textContent === 'a notice for alice')")
    run_php("broadcast('news', 'marker 2');", ini=hub.ini)
    bob_echo.wait_for(shown("marker 2"))
    assert not bob_echo.evaluate(shown("a notice for alice"))

    # whisper()/listenForWhisper(): bob types on his Echo page, alice's shows it
    bob_echo.evaluate("const i = document.querySelector('#send [name=message]'); i.value = 'h';"
                      " i.dispatchEvent(new Event('input'))")
    echo.wait_for("document.getElementById('typing').textContent === 'bob is typing…'")
    bob_echo.close()
    result = run_php(f"broadcast('news', {php_string(TRICKY)});", ini=hub.ini)
    assert result.returncode == 0, result.stderr
    echo.wait_for(shown(TRICKY))
    assert echo.evaluate("document.querySelectorAll('#messages b, #messages script').length") == 0
    echo.screenshot(str(ROOT / "build" / "demo-echo.png"))

    bob.close()
    echo.wait_for("document.querySelectorAll('#online li').length === 1")  # Echo's leaving()
    hub.log.wait_for(r"bob left presence-lobby")
    assert len(hub.log.matching(r"alice joined presence-lobby")) == 1  # two tabs, two dialects: one join
    for tab in (alice, echo):
        tab.close()
    assert not hub.log.matching(r"Warning|Notice|Deprecated|Traceback"), hub.log.lines
