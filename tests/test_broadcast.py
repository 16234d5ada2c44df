"""broadcast() from app processes: CLI and `php -S` (php-fpm: test_fpm.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from support import (PHP_ENGINE, ROOT, Hub, announced, client, free_port, next_event, php_command, php_string, run_php,
                     short_tempdir, subscribe)

# UTF-8, quotes, HTML, backslashes, JSON look-alikes, control characters, a 4-byte emoji.
TRICKY = 'héllo "wörld" <b>bold</b> & \'single\' \\ {"json":1} \u2028 tab\there\nnewline 🎉'


async def test_cli_broadcast_arrives_byte_identical(hub: Hub) -> None:
    ws = await client(hub)
    await subscribe(ws, "news")
    result = hub.php(f"broadcast('news', {php_string(TRICKY)}); echo 'sent';")
    assert result.stdout == "sent", result.stderr
    event = await next_event(ws, "message")
    assert announced(event) == {"event": "message", "channel": "news", "offset": 1, "data": TRICKY}
    await ws.close()


async def test_only_subscribers_of_the_channel_receive(hub: Hub) -> None:
    news, sport = await client(hub, "1"), await client(hub, "2")
    await subscribe(news, "news")
    await subscribe(sport, "sport")
    hub.php("broadcast('sport', 'goal'); broadcast('news', 'headline');")
    assert (await next_event(news, "message"))["data"] == "headline"
    assert (await next_event(sport, "message"))["data"] == "goal"
    await news.close(); await sport.close()


async def test_messages_from_one_process_arrive_in_order(hub: Hub) -> None:
    ws = await client(hub)
    await subscribe(ws, "seq")
    hub.php("for ($i = 0; $i < 500; $i++) broadcast('seq', (string) $i);")
    got = [(await next_event(ws, "message"))["data"] for _ in range(500)]
    assert got == [str(i) for i in range(500)]
    await ws.close()


async def test_php_builtin_server_broadcast(hub: Hub, tmp_path) -> None:
    port = free_port()
    server = subprocess.Popen(
        php_command("-S", f"127.0.0.1:{port}", "-t", str(ROOT / "tests" / "php"), ini=hub.ini),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in server.stderr:  # php -S says when it listens
            if "started" in line:
                break
        ws = await client(hub)
        await subscribe(ws, "web")
        for _ in range(3):  # several requests: the connection to the hub is reused
            query = urllib.parse.urlencode({"channel": "web", "message64": base64.b64encode(TRICKY.encode())})
            body = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/send.php?{query}")
            assert json.loads(body)["ok"] is True, body
            assert json.loads(body)["python"] is False, body  # php -S workers never start Python for this
            assert (await next_event(ws, "message"))["data"] == TRICKY
        await ws.close()
    finally:
        server.terminate()
        server.wait(10)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


@pytest.mark.parametrize("code, message", [
    ("broadcast('', 'x');", "invalid channel"),
    ("broadcast('a b', 'x');", "invalid channel"),
    ("broadcast(str_repeat('c', 201), 'x');", "invalid channel"),
    ("broadcast('news', \"\\xff\\xfe\");", "message is not valid UTF-8"),
    ("broadcast('news', str_repeat('m', 65537));", "over max_message_size (65536)"),
])
def test_bad_arguments_raise_value_error_and_send_nothing(hub: Hub, code: str, message: str) -> None:
    result = hub.php(f"try {{ {code} }} catch (ValueError $e) {{ echo 'VE:', $e->getMessage(); }}")
    assert result.stdout.startswith("VE:") and message in result.stdout, result.stdout + result.stderr


def test_message_at_the_size_limit_is_accepted(hub: Hub) -> None:
    result = hub.php("broadcast('news', str_repeat('m', 65536)); echo 'ok';")
    assert result.stdout == "ok", result.stderr


def test_hub_down_raises_naming_the_socket_within_two_seconds() -> None:
    path = os.path.join(short_tempdir(), "nobody.sock")
    started = time.monotonic()
    result = run_php(
        "try { broadcast('news', 'x'); } catch (PyBroadcast\\Exception $e) {"
        " echo get_class($e), '|', $e->getCode() === PyBroadcast\\Exception::NOT_SENT ? 'not sent' : 'other', '|', $e->getMessage(); }",
        ini={"pybroadcast.socket": path})
    elapsed = time.monotonic() - started
    assert result.stdout.startswith("PyBroadcast\\Exception|not sent|"), result.stdout + result.stderr
    assert path in result.stdout and "no hub is running: the socket file does not exist" in result.stdout
    assert elapsed < 5, f"took {elapsed:.1f} s"  # generous: it must not hang, whatever the machine's load


def test_hub_that_never_answers_raises_within_a_second_or_so() -> None:
    """Fault injection: a socket that accepts and never replies (a wedged hub)."""
    path = os.path.join(short_tempdir(), "mute.sock")
    mute = socket.socket(socket.AF_UNIX)
    mute.bind(path)
    mute.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(mute.accept()[0]), daemon=True).start()
    code = ("$t = microtime(true); try { broadcast('news', 'x'); } catch (PyBroadcast\\Exception $e) {"
            " printf('%.2f|%d|%s', microtime(true) - $t, $e->getCode(), $e->getMessage()); }")
    result = run_php(code, ini={"pybroadcast.socket": path})
    seconds, code_number, message = result.stdout.split("|", 2)
    # Sent but never acknowledged: the caller must know it may still arrive (no blind retry).
    assert int(code_number) == 2 and "did not confirm" in message and path in message, result.stdout + result.stderr
    assert float(seconds) < 3
    mute.close()


def test_hub_restart_is_survived_by_a_long_lived_app_process(make_hub) -> None:
    """The kept connection goes stale when the hub restarts; the next call reconnects (in C:
    the process never starts Python)."""
    first = make_hub()
    script = (
        "broadcast('x', 'before'); echo 'one;'; fgets(STDIN);"
        "broadcast('x', 'after'); echo 'two;';"
        f"echo {PHP_ENGINE};"
    )
    app = subprocess.Popen(php_command("-r", script, ini=first.ini), stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert app.stdout.read(4) == "one;"
    assert first.stop() == 0
    second = make_hub({"options": {"socket": first.socket}})
    out, err = app.communicate("go\n", timeout=20)
    assert out == "two;c", err
    assert second.process.poll() is None
