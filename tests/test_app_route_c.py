"""The memory driver's app calls from C (ext/app_route.c, socket_route.c) are Python's SocketRoute, byte for byte.

Each case runs in two fresh PHP processes against one recording command socket: once as
is (the C route takes it, or declines and Python does) and once with Python forced (a
setting the C route leaves to Python: `listen`). Outcomes and request bytes must match.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import threading
from typing import Iterator

import pytest

from pybroadcast import settings
from pybroadcast.drivers.memory import wire
from support import PHP_ENGINE, ROOT, Hub, client, next_event, php_string, run_php, short_tempdir

FORCE_PYTHON = {"pybroadcast.listen": ":8080"}  # valid, and a setting the C route declines on


MEMBERS = ["7", "alice", "é"]
HISTORY = ["~e1:5", "42", "41", "", "plain", "42", "App\\Ev", "ünï {\"x\":1}"]  # epoch top (offset name data)...


class RecordingHub:
    """A command socket that records each request and answers `mode`: ok (with members or
    history when asked), error or silent; `history` = [] answers as a hub with history off."""

    def __init__(self) -> None:
        self.path = os.path.join(short_tempdir(), "hub.sock")
        self.mode = "ok"
        self.history = HISTORY
        self.requests: list[bytes] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while chunk := conn.recv(65536):
                buffer += chunk
                while True:
                    body, rest = wire.split(buffer, 1 << 20)
                    if body is None:
                        break
                    self.requests.append(buffer[:len(buffer) - len(rest)])
                    buffer = rest
                    op = wire.unpack(body)[0]
                    if self.mode == "ok":
                        answer = {wire.MEMBERS: MEMBERS, wire.HISTORY: self.history}.get(op, [])
                        conn.sendall(wire.pack(wire.OK, *answer))
                    elif self.mode == "error":
                        conn.sendall(wire.pack(wire.ERROR, "no such thing"))

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def recording() -> Iterator[RecordingHub]:
    hub = RecordingHub()
    yield hub
    hub.close()


def php_outcome(code: str, ini: dict[str, str], env: dict[str, str] | None = None) -> tuple[str, bool]:
    """`code` (an expression) in a fresh PHP process: its outcome (the JSON of [value, $p], or the
    exception's class, code and message) and whether Python was loaded."""
    script = (f"try {{ $r = {code}; echo json_encode([$r, array_key_exists('p', get_defined_vars()) ? $p : 'unset']);"
              f" }} catch (Throwable $e) {{ echo get_class($e), '|', $e->getCode(), '|',"
              f" $e->getMessage(); }} echo '|', {PHP_ENGINE};")
    result = run_php(script, ini=ini, env=env)
    outcome, _, engine = result.stdout.rpartition("|")
    assert engine in ("py", "c"), result.stdout + result.stderr
    return outcome, engine == "py"


def run_case(hub: RecordingHub, code: str, ini: dict[str, str] | None = None) -> tuple[str, list[bytes], bool]:
    """(outcome, requests the hub got, whether Python was loaded)."""
    hub.requests.clear()
    outcome, python = php_outcome(code, {"pybroadcast.socket": hub.path, **(ini or {})})
    return outcome.replace(hub.path, "SOCKET"), list(hub.requests), python


B = php_string  # exact bytes as a PHP expression
CORPUS = [
    "broadcast('news', 'x')", "broadcast('news', 'x', null)", "broadcast('news', 'x', 'App\\\\Events\\\\Shipped')",
    f"broadcast('news', 'x', {B('é')})", "broadcast('news', 'x', \"a\\tb\")", "broadcast('news', 'x', '')",
    "broadcast('AZaz09_-=@,.;:', 'x')", "broadcast(str_repeat('c', 200), 'x')", "broadcast(str_repeat('c', 201), 'x')",
    "broadcast('a b', 'x')", "broadcast('', 'x')", f"broadcast({B('é')}, 'x')", "broadcast(\"a\\0b\", 'x')",
    "broadcast('news', " + B('héllo "wörld" 🎉 <b>') + ")", "broadcast('news', \"a\\0b\")",
    "broadcast('news', \"\\xc0\\x80\")", "broadcast('news', \"\\xe0\\x80\\x80\")", "broadcast('news', \"\\xed\\xa0\\x80\")",
    "broadcast('news', \"\\xf4\\x90\\x80\\x80\")", "broadcast('news', \"\\xf0\\x9f\\x8e\")", "broadcast('news', \"\\x80\")",
    "broadcast('news', \"\\xef\\xbf\\xbf\")", "broadcast('news', \"\\xf4\\x8f\\xbf\\xbf\")", "broadcast('news', \"\\xc2\")",
    "broadcast('news', str_repeat('m', 64))", "broadcast('news', str_repeat('m', 65))",
    "broadcast('news', str_repeat('é', 32))", "broadcast('news', str_repeat('é', 33))",
    "broadcastToUser(7, 'x')", "broadcastToUser(-5, 'x', 'N')", "broadcastToUser('7', 'x')", "broadcastToUser('alice', 'x')",
    "broadcastToUser('', 'x')", f"broadcastToUser({B('é')}, 'x')", "broadcastToUser(\"a\\nb\", 'x')",
    "broadcastToUser(str_repeat('u', 200), 'x')", "broadcastToUser(str_repeat('u', 201), 'x')",
    "broadcastToUser(\"\\xff\", 'x')", "broadcastToUser(' spaced ', 'x')", "disconnectUser(7)", "disconnectUser('x y')",
    "disconnectUser('')",
    "getChannelUsers('news')", "getChannelUsers('a b')", "getChannelUsers(str_repeat('c', 201))",
    "getChannelHistory('news')", "getChannelHistory('news', 2, $p)", "getChannelHistory('news', 0, $p)",
    "getChannelHistory('news', 10000, $p)", "getChannelHistory('news', 10001, $p)", "getChannelHistory('a b', 1, $p)",
]


@pytest.mark.parametrize("code", CORPUS)
def test_the_c_route_does_what_python_does(recording: RecordingHub, code: str) -> None:
    limits = {"pybroadcast.max_message_size": "64"}
    fast = run_case(recording, code, limits)
    python = run_case(recording, code, {**limits, **FORCE_PYTHON})
    assert python[2], "Python was not forced"
    assert fast[:2] == python[:2], (fast, python)


def _random_corpus(seed: int, count: int) -> list[str]:
    """Seeded calls with arguments near every rule's edges: allowed and refused characters, valid
    and broken UTF-8, lengths and sizes around the limits, null and odd names."""
    import random

    rng = random.Random(seed)
    pieces = [b"a", b"Z", b"9", b"_", b"-", b"=", b"@", b",", b".", b";", b":", b" ", b"/", b"\t", b"\x00", b"\x7f",
              "é".encode(), "🎉".encode(), "\u00a0".encode(), b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
              b"\xe2\x82", b"\x80", b"\xff", b'"', b"\\", b"'"]

    def text(lo: int, hi: int, plain: float) -> bytes:
        size = rng.choice([lo, hi, hi + 1, rng.randint(lo, hi)])
        if rng.random() < plain:
            return bytes(rng.choice(b"abcXYZ019_-=@,.;:") for _ in range(size))
        out = b""
        while len(out) < size:
            out += rng.choice(pieces)
        return out

    def raw(data: bytes) -> str:
        return f"base64_decode('{base64.b64encode(data).decode()}')"

    calls = []
    for _ in range(count):
        kind = rng.choice(["broadcast", "broadcastToUser", "disconnectUser", "getChannelUsers", "getChannelHistory"])
        name = "null" if rng.random() < 0.4 else raw(text(0, 200, 0.5))
        if kind == "broadcast":
            calls.append(f"broadcast({raw(text(0, 200, 0.7))},"
                         f" {raw(text(0, 64, 0.3))}, {name})")
        elif kind == "broadcastToUser":
            user = str(rng.randint(-10 ** 12, 10 ** 12)) if rng.random() < 0.3 else raw(text(0, 200, 0.5))
            calls.append(f"broadcastToUser({user}, {raw(text(0, 64, 0.3))}, {name})")
        elif kind == "disconnectUser":
            calls.append(f"disconnectUser({raw(text(0, 200, 0.5))})")
        elif kind == "getChannelUsers":
            calls.append(f"getChannelUsers({raw(text(0, 200, 0.7))})")
        else:
            calls.append(f"getChannelHistory({raw(text(0, 200, 0.7))},"
                         f" {rng.choice([0, 1, 100, 10000, 10001, -1])}, $p)")
    return calls


def test_a_seeded_random_corpus_gets_the_same_answers_and_bytes(recording: RecordingHub) -> None:
    limits = {"pybroadcast.max_message_size": "64"}
    taken_by_c = 0
    for code in _random_corpus(seed=10, count=150):
        fast = run_case(recording, code, limits)
        python = run_case(recording, code, {**limits, **FORCE_PYTHON})
        assert fast[:2] == python[:2], (code, fast, python)
        taken_by_c += not fast[2]
    assert taken_by_c >= 30, taken_by_c  # the corpus reaches the C route, not only Python


def test_plain_publishes_never_start_python(recording: RecordingHub) -> None:
    outcome, requests, python = run_case(recording, "broadcast('news', 'x', 'Ev'); broadcastToUser(7, 'é');"
                                                    " disconnectUser('alice')")
    assert (outcome, python) == ("[null,\"unset\"]", False)
    assert requests == [wire.pack(wire.PUBLISH, "message", "news", "x", "Ev", "", ""),
                        wire.pack(wire.PUBLISH, "direct", "7", "é", "", "", ""),
                        wire.pack(wire.PUBLISH, "disconnect", "alice", "", "", "", "")]


@pytest.mark.parametrize("mode", ["error", "silent"])
def test_a_refusal_or_no_answer_is_the_same_error(recording: RecordingHub, mode: str) -> None:
    recording.mode = mode
    fast = run_case(recording, "broadcast('news', 'x')")
    python = run_case(recording, "broadcast('news', 'x')", FORCE_PYTHON)
    assert fast[2] is False and fast[:2] == python[:2], (fast, python)
    expected = {"error": "PyBroadcast\\Exception|1|pybroadcast hub refused the request: no such thing",
                "silent": "PyBroadcast\\Exception|2|pybroadcast hub at unix socket SOCKET did not confirm the request:"
                          " no answer within 1 s; it may still be delivered"}[mode]
    assert fast[0] == expected and len(fast[1]) == 1  # sent once: never again by Python


def test_members_and_history_read_without_python(recording: RecordingHub) -> None:
    outcome, requests, python = run_case(recording, "[getChannelUsers('news'), getChannelHistory('news', 5, $p)]")
    assert python is False and json.loads(outcome) == [
        [MEMBERS, [{"offset": 41, "data": "plain", "event": None}, {"offset": 42, "data": "ünï {\"x\":1}", "event": "App\\Ev"}]],
        {"epoch": "~e1:5", "offset": 42}]
    assert requests == [wire.pack(wire.MEMBERS, "news"), wire.pack(wire.HISTORY, "news", "5")]
    recording.history = []  # the hub keeps no history
    fast = run_case(recording, "getChannelHistory('news', 5, $p)")
    assert fast[0] == "[[],null]" and fast[:2] == run_case(recording, "getChannelHistory('news', 5, $p)", FORCE_PYTHON)[:2]


def test_no_hub_is_pythons_error_and_nothing_is_sent_twice(recording: RecordingHub) -> None:
    recording.close()
    os.unlink(recording.path)
    fast = run_case(recording, "broadcast('news', 'x')")
    assert fast[0].startswith("PyBroadcast\\Exception|1|pybroadcast hub unreachable at unix socket SOCKET: no hub"), fast


async def test_a_real_hub_delivers_what_c_sent(hub: Hub) -> None:
    ws = await client(hub, "7")
    await ws.send(json.dumps({"action": "subscribe", "channel": "news"}))
    await next_event(ws, "subscribed")
    result = hub.php(f"broadcast('news', {B('héllo 🎉')}, 'Ev'); broadcastToUser(7, 'to you');"
                     f" echo {PHP_ENGINE};")
    assert result.stdout == "c", result.stderr
    message = await next_event(ws, "message")
    assert (message["data"], message["name"], message["offset"]) == ("héllo 🎉", "Ev", 1)
    assert (await next_event(ws, "direct"))["data"] == "to you"
    await ws.close()


def test_the_c_side_lists_every_setting() -> None:
    """ext/settings.h, the C side's one list of settings (php.ini entries and what the C route
    does with each): the same names, environment variables and number kinds as OPTIONS."""
    text = (ROOT / "ext" / "settings.h").read_text()
    table = re.findall(r'X\("(\w+)", (?:"(\w+)"|NULL), (\w+), (\w+)\)', text)
    assert [(name, env or None) for name, env, _, _ in table] == [(o.name, o.env) for o in settings.OPTIONS]
    checks = {"TEXT": "text", "SECRET": "text", "URL": "text", "INT": "int", "REAL": "number", "COUNT": "count"}
    for (name, _, check, use), option in zip(table, settings.OPTIONS):
        assert checks[check] == option.kind, name
        # a number php.ini did not check could be one Python refuses
        assert (use in ("NUMBER_CHECKED", "THE_HISTORY_SIZE", "THE_HISTORY_TTL")) == (option.kind != "text"), name
