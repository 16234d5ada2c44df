"""The Redis driver's app calls from C (ext/redis_route.c) are Python's RedisRoute, command for command.

Each case runs in two fresh PHP processes against a real redis-server, emptied before each run:
once as is (the C route takes it, or declines and Python does) and once with Python forced (a
setting the C route leaves to Python: `listen`). The outcomes and every command Redis ran
(its own MONITOR record, scripts' inner calls included) must match.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid
from typing import Any, Iterator

import pytest
import redis

from harness.processes import free_port, php_command
from harness.redis_server import KEY_PASSWORD, RedisServer, another_ca
from pybroadcast.drivers.redis import keys as redis_keys
from support import PHP_ENGINE, client, next_event, php_string as B, run_php
from test_app_route_c import CORPUS as MEMORY_CORPUS, FORCE_PYTHON, _random_corpus, php_outcome

MEMBERS = [b"7\nc1", b"alice\nc2", "é\nc3".encode(), b"7\nc4"]
CONNECTION_SETUP = ("CLIENT", "HELLO", "AUTH", "SELECT", "PING")  # redis-py and hiredis log in their own way


class Monitor:
    """Every command a real redis-server runs, from its MONITOR feed."""

    def __init__(self, server: RedisServer) -> None:
        self._sock = socket.create_connection(("127.0.0.1", server.port))
        if server.tls:
            context = ssl.create_default_context(cafile=server.ca)
            if server.client_certs:
                context.load_cert_chain(f"{server.dir}/client.crt", f"{server.dir}/client.key")
            self._sock = context.wrap_socket(self._sock, server_hostname="127.0.0.1")
        self._sock.sendall(b"MONITOR\r\n")
        self._lines: list[str] = []
        self._seen = threading.Condition()
        self._control = server.client()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while chunk := self._sock.recv(65536):
            buffer += chunk
            *lines, buffer = buffer.split(b"\r\n")
            with self._seen:
                self._lines += [line.decode("utf-8", "replace") for line in lines]
                self._seen.notify_all()

    def commands(self, run: Any) -> list[str]:
        """The commands run while `run()` ran, without the connection setup."""
        mark = uuid.uuid4().hex
        self._control.echo(f"start-{mark}")
        run()
        self._control.echo(f"end-{mark}")
        with self._seen:
            assert self._seen.wait_for(lambda: any(f"end-{mark}" in line for line in self._lines), timeout=10)
            lines = self._lines[:]
        start = next(i for i, line in enumerate(lines) if f"start-{mark}" in line)
        end = next(i for i, line in enumerate(lines) if f"end-{mark}" in line)
        found = [line.split("] ", 1)[1] for line in lines[start + 1:end] if "] " in line]
        return [c for c in found if not c.startswith(tuple(f'"{name}"' for name in CONNECTION_SETUP))]

    def close(self) -> None:
        self._sock.close()


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    own = RedisServer()  # emptied before every run: not the session's shared one
    yield own
    own.stop()


@pytest.fixture(scope="module")
def monitor(server: RedisServer) -> Iterator[Monitor]:
    watching = Monitor(server)
    yield watching
    watching.close()


def _watched(own: RedisServer) -> Iterator[tuple[RedisServer, Monitor]]:
    watching = Monitor(own)
    yield own, watching
    watching.close()
    own.stop()


@pytest.fixture(scope="module")
def tls() -> Iterator[tuple[RedisServer, Monitor]]:
    """A Redis that speaks only TLS (rediss://…?ssl_ca_certs=<its throwaway CA>), and its MONITOR."""
    yield from _watched(RedisServer(tls=True))


@pytest.fixture(params=["redis", "rediss"])
def either(request: Any) -> tuple[RedisServer, Monitor]:
    """A plain Redis, and one that speaks only TLS."""
    if request.param == "rediss":
        return request.getfixturevalue("tls")
    return request.getfixturevalue("server"), request.getfixturevalue("monitor")


def _normal(text: str, server: RedisServer) -> str:
    text = re.sub(r"\b[0-9a-f]{16}\b", "EPOCH", text)  # history.new_epoch(): random
    text = re.sub(r"~[0-9a-f]*:\d+", "~PLACEHOLDER", text)
    text = re.sub(r'"\(\d{13}"', '"(NOW"', text)  # Redis's clock, read by the members script
    return text.replace(str(server.port), "PORT").replace(server.dir, "DIR")


def _without_reason(outcome: str) -> str:
    """`outcome` without the words after "unreachable": where a server ends a TLS handshake, how
    Python's ssl words it depends on a race (its write or its read meets the alert first)."""
    return re.sub(r"unreachable: .*", "unreachable: ...", outcome)


def run_case(server: RedisServer, monitor: Monitor, code: str, ini: dict[str, str] | None = None,
             env: dict[str, str] | None = None) -> tuple[str, list[str], bool]:
    """(outcome, commands Redis ran, whether Python was loaded), from an emptied Redis with three
    users present in `news` and no script cached."""
    control = server.client()
    control.flushall()
    control.script_flush()
    control.zadd("pybroadcast:presence:news:conns", {member: 9e15 for member in MEMBERS})
    settings = {"pybroadcast.driver": "redis", "pybroadcast.redis_url": server.url, **(ini or {})}
    result: tuple[str, bool] = ("", False)

    def run() -> None:
        nonlocal result
        result = php_outcome(code, settings, env)

    commands = monitor.commands(run)
    outcome, python = result
    return _normal(outcome, server), [_normal(c, server) for c in commands], python


def same_both_ways(server: RedisServer, monitor: Monitor, code: str, ini: dict[str, str] | None = None,
                   env: dict[str, str] | None = None) -> tuple[str, list[str], bool]:
    fast = run_case(server, monitor, code, ini, env)
    python = run_case(server, monitor, code, {**(ini or {}), **FORCE_PYTHON}, env)
    assert python[2] or "ValueError" in python[0], "Python was not forced"  # (PHP itself refused the arguments)
    assert fast[:2] == python[:2], (code, fast, python)
    return fast


LIMITS = {"pybroadcast.max_message_size": "64"}
REDIS_CORPUS = [
    "[broadcast('news', 'a'), broadcast('news', 'b', 'Ev'), getChannelHistory('news', 5, $p)]",
    "[broadcast('news', 'a'), broadcast('news', 'b'), broadcast('news', 'c'), getChannelHistory('news', 2, $p)]",
    "getChannelHistory('news', 5, $p)", "getChannelHistory('news', 0, $p)", "getChannelHistory('quiet')",
    "[broadcast('news', " + B('ünï "q" \\ \t\n\r\b\f\x01\x1f\x7f\u2028 🎉') + "), getChannelHistory('news', 1, $p)]",
    "getChannelUsers('news')", "getChannelUsers('empty')",
    "[broadcastToUser(7, 'x', 'N'), disconnectUser('alice')]",
]


@pytest.mark.parametrize("code", MEMORY_CORPUS + REDIS_CORPUS)
def test_the_c_route_does_what_python_does(server: RedisServer, monitor: Monitor, code: str) -> None:
    same_both_ways(server, monitor, code, LIMITS)


@pytest.mark.parametrize("code", REDIS_CORPUS)
def test_over_tls_the_c_route_does_what_python_does(tls: tuple[RedisServer, Monitor], code: str) -> None:
    same_both_ways(*tls, code, LIMITS)


def test_a_seeded_random_corpus_gets_the_same_answers_and_commands(server: RedisServer, monitor: Monitor) -> None:
    taken_by_c = 0
    for code in _random_corpus(seed=11, count=100):
        taken_by_c += not same_both_ways(server, monitor, code, LIMITS)[2]
    assert taken_by_c >= 20, taken_by_c  # the corpus reaches the C route, not only Python


def test_plain_calls_never_start_python(either: tuple[RedisServer, Monitor]) -> None:
    outcome, commands, python = run_case(
        *either, "[broadcast('news', 'x', 'Ev'), broadcastToUser(7, 'é'), disconnectUser('alice'),"
                         " getChannelUsers('news'), getChannelHistory('news', 5, $p)]")
    assert python is False
    assert outcome == ('[[null,null,null,["7","alice","\\u00e9"],[{"offset":1,"data":"x","event":"Ev"}]],'
                       '{"epoch":"EPOCH","offset":1}]')
    sha = {name: hashlib.sha1(text.encode()).hexdigest()
           for name, text in (("publish", redis_keys.PUBLISH), ("members", redis_keys.MEMBERS),
                              ("read", redis_keys.READ_HISTORY))}
    top = [c for c in commands if not c.startswith("[") and not c.startswith('"SCRIPT"')]
    assert [c.split('" "')[:2] for c in top if c.startswith('"EVALSHA"')] == [
        ['"EVALSHA', sha[name]] for name in ("publish", "publish", "members", "members", "read", "read")]
    # the same scripts as Python's (lua/*.lua): NOSCRIPT (the cache was flushed), loaded, run by SHA1
    assert sum(c.startswith('"SCRIPT" "LOAD"') for c in commands) == 3
    assert '"PUBLISH" "pybroadcast:users" "[\\"direct\\",\\"7\\",\\"\\xc3\\xa9\\",\\"\\",\\"\\",\\"\\"]"' in top


@pytest.mark.parametrize("settings", [
    {"pybroadcast.history_size": "0"}, {"pybroadcast.history_size": "3"}, {"pybroadcast.history_ttl": "0.5"},
    {"pybroadcast.history_ttl": "100000"}, {"pybroadcast.history_ttl": "1e3"}, {"pybroadcast.redis_prefix": "app1"},
    {"pybroadcast.redis_prefix": " app1 "}, {"pybroadcast.driver": "REDIS"},
])
def test_settings_are_read_as_python_reads_them(server: RedisServer, monitor: Monitor, settings: dict[str, str]) -> None:
    code = "[broadcast('news', 'a'), broadcast('news', 'b'), broadcast('news', 'c'), getChannelHistory('news', 9, $p)]"
    same_both_ways(server, monitor, code, settings)


@pytest.mark.parametrize("url, c_takes_it, db", [
    ("redis://127.0.0.1:PORT", True, 0), ("redis://127.0.0.1:PORT/", True, 0), ("redis://LocalHost:PORT/0", True, 0),
    ("redis://127.0.0.1:PORT/1", True, 1), ("redis://127.0.0.1:PORT/0?socket_timeout=2", False, 0),
    ("redis://127.0.0.1:PORT/x", False, 0), ("redis://:wrong@127.0.0.1:PORT/0", False, 0),  # no password set: redis-py goes on, C declines
    ("redis://127.0.0.1:FREE/0", False, None),
    ("redis://127.0.0.1:PORT/1?db=2", True, 2), ("redis://127.0.0.1:PORT/x?db=2", True, 2),  # the query's db wins
    ("redis://127.0.0.1:PORT/0?db=2&db=3", False, 2), ("redis://127.0.0.1:PORT/0?db=", False, 0),
    ("redis://127.0.0.1:PORT/0?ssl_ca_certs=/x", False, None),  # a TLS option on a plain URL
    ("unix://SOCK", True, 0), ("unix://SOCK?db=0", True, 0), ("unix://SOCK?db=3", True, 3),
    ("unix://SOCK?db=x", False, None), ("unix://SOCK?socket_timeout=2", False, 0), ("unix://SOCK/nowhere", False, None),
])
def test_urls_are_read_as_redis_py_reads_them(server: RedisServer, monitor: Monitor, url: str, c_takes_it: bool,
                                              db: int | None) -> None:
    url = url.replace("PORT", str(server.port)).replace("FREE", str(free_port())).replace("SOCK", server.socket)
    code = "[broadcast('news', 'a'), getChannelHistory('news', 1, $p)]"
    outcome, _, python = same_both_ways(server, monitor, code, {"pybroadcast.redis_url": url})
    assert python is not c_takes_it, outcome
    run_case(server, monitor, code, {"pybroadcast.redis_url": url})  # again, as is: which database it wrote
    if db is None:
        assert "offset" not in outcome, outcome
    else:
        assert [server.client(n).xlen("pybroadcast:history:news:stream") for n in range(4)] == [n == db for n in range(4)]


@pytest.mark.parametrize("url, c_takes_it, connects", [
    ("rediss://127.0.0.1:PORT/0?ssl_ca_certs=CA", True, True), ("rediss://127.0.0.1:PORT?ssl_ca_certs=CA", True, True),
    ("rediss://127.0.0.1:PORT/0", False, False),  # the throwaway CA is not the system's: both refuse the server
    ("rediss://localhost:PORT/0?ssl_ca_certs=CA", False, False),  # the certificate names 127.0.0.1 only
    ("rediss://127.0.0.1:PORT/0?ssl_cert_reqs=none", True, True),
    ("rediss://localhost:PORT/0?ssl_cert_reqs=none", True, True),
    ("rediss://127.0.0.1:PORT/0?ssl_ca_certs=CA&ssl_cert_reqs=required", True, True),
    ("rediss://localhost:PORT/0?ssl_cert_reqs=optional&ssl_ca_certs=CA", False, False),  # optional is required for a client
    ("rediss://127.0.0.1:PORT/0?ssl_cert_reqs=none&ssl_ca_certs=/nowhere", False, False),  # the CA is read even so
    ("rediss://127.0.0.1:PORT/0?ssl_cert_reqs=maybe", False, False),
    # ssl_check_hostname: redis-py's to_bool (0, f, false, n, no in any case: false; any other word: true)
    ("rediss://localhost:PORT/0?ssl_ca_certs=CA&ssl_check_hostname=false", True, True),  # any name, the CA still
    ("rediss://localhost:PORT/0?ssl_check_hostname=No&ssl_ca_certs=CA", True, True),
    ("rediss://127.0.0.1:PORT/0?ssl_ca_certs=CA&ssl_check_hostname=0", True, True),
    ("rediss://localhost:PORT/0?ssl_ca_certs=CA&ssl_check_hostname=yes", False, False),
    ("rediss://localhost:PORT/0?ssl_ca_certs=CA&ssl_check_hostname=nope", False, False),
    ("rediss://localhost:PORT/0?ssl_check_hostname=false", False, False),  # nor does the CA vouch for it
    ("rediss://localhost:PORT/0?ssl_cert_reqs=none&ssl_check_hostname=true", True, True),  # none: no name either
    ("rediss://localhost:PORT/0?ssl_ca_certs=CA&ssl_check_hostname=%46alse", False, True),  # escapes: Python's
    ("rediss://localhost:PORT/0?ssl_ca_certs=CA&ssl_check_hostname=no&ssl_check_hostname=yes", False, True),  # the first
    ("rediss://127.0.0.1:PORT/0?ssl_ca_certs=%2Fnowhere", False, False),
    ("rediss://127.0.0.1:PORT/0?ssl_ca_certs=ca.crt", False, False),
    ("redis://127.0.0.1:PORT/0", False, False),  # no TLS to a TLS port: no Redis answers
])
def test_rediss_urls_are_read_as_redis_py_reads_them(tls: tuple[RedisServer, Monitor], url: str,
                                                      c_takes_it: bool, connects: bool) -> None:
    url = url.replace("PORT", str(tls[0].port)).replace("CA", tls[0].ca)
    outcome, _, python = same_both_ways(*tls, "[broadcast('news', 'a'), getChannelHistory('news', 1, $p)]",
                                        {"pybroadcast.redis_url": url})
    assert python is not c_takes_it, outcome
    assert ("unreachable" not in outcome) is connects, outcome


@pytest.mark.parametrize("shape, c_takes_it", [
    ("{other}{ca}", True),  # a bundle: the server's CA second
    ("text before\n{ca}text after\n", True),  # words around a PEM block, as in bundles
    ("{other}", False), ("", False), ("DER", False),  # PEM only, as OpenSSL reads a CA file for Python
])
def test_ca_files_are_read_as_python_reads_them(tls: tuple[RedisServer, Monitor], tmp_path: Any, shape: str,
                                                c_takes_it: bool) -> None:
    """ssl_ca_certs's file as redis_tls.c reads it (its own reader: see load_ca)."""
    server = tls[0]
    ca, other = open(server.ca).read(), open(another_ca(str(tmp_path))).read()
    if shape == "DER":
        der = subprocess.run(["openssl", "x509", "-in", server.ca, "-outform", "DER"], check=True, capture_output=True)
        (tmp_path / "ca.file").write_bytes(der.stdout)
    else:
        (tmp_path / "ca.file").write_text(shape.format(other=other, ca=ca))
    url = f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={tmp_path / 'ca.file'}"
    outcome, _, python = same_both_ways(*tls, "[broadcast('news', 'a'), getChannelHistory('news', 1, $p)]",
                                        {"pybroadcast.redis_url": url})
    assert python is not c_takes_it, outcome
    assert ("unreachable" not in outcome) is c_takes_it, outcome


@pytest.fixture(scope="module")
def mutual_tls() -> Iterator[tuple[RedisServer, Monitor]]:
    """A Redis that wants a client certificate its CA signed, and its MONITOR."""
    yield from _watched(RedisServer(client_certs=True))


@pytest.mark.parametrize("options, c_takes_it", [
    ("&ssl_certfile=DIR/client.crt&ssl_keyfile=DIR/client.key", True),
    ("&ssl_certfile=DIR/client.pem", True),  # the key in the certificate's file
    ("", False),  # no certificate: the server ends the handshake, both ways
    ("&ssl_certfile=DIR/stranger.pem", False),  # one the server's CA did not sign
    ("&ssl_certfile=DIR/client.crt&ssl_keyfile=DIR/stranger.key", False),  # a key of another certificate
    ("&ssl_keyfile=DIR/client.key", False),  # a key without its certificate
    ("&ssl_certfile=DIR/client.crt&ssl_keyfile=DIR/client-locked.key&ssl_password=KEY_PASSWORD", True),
    ("&ssl_certfile=DIR/client.crt&ssl_keyfile=DIR/client.key&ssl_password=unused", True),  # a key not encrypted
    ("&ssl_certfile=DIR/client.crt&ssl_keyfile=DIR/client-locked.key&ssl_password=wrong", False),
    ("&ssl_certfile=DIR/client.crt&ssl_keyfile=DIR/client-locked.key&ssl_password=k3y%3Apass-(1)", False),  # escapes
])
def test_a_client_certificate_is_presented_as_python_presents_it(mutual_tls: tuple[RedisServer, Monitor], options: str,
                                                                  c_takes_it: bool) -> None:
    server = mutual_tls[0]
    url = f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={server.ca}" + options.replace("DIR", server.dir).replace(
        "KEY_PASSWORD", KEY_PASSWORD)
    code, ini = "[broadcast('news', 'a'), getChannelHistory('news', 1, $p)]", {"pybroadcast.redis_url": url}
    (outcome, commands, python), (slow, slow_commands, _) = [run_case(*mutual_tls, code, extra)
                                                             for extra in (ini, {**ini, **FORCE_PYTHON})]
    assert (_without_reason(outcome), commands) == (_without_reason(slow), slow_commands)
    assert python is not c_takes_it, outcome
    assert ('"offset":1' in outcome) is (c_takes_it or "%3A" in options), outcome


def _random_urls(seed: int, count: int, server: RedisServer) -> list[str]:
    """Seeded rediss:// URLs for a server that wants a client certificate: each option mostly as a
    working URL has it, else one of its other values (wrong, escaped, odd case) or left out, in any
    order, sometimes twice; hosts the certificate names or not; logins and paths."""
    import random

    rng = random.Random(seed)
    d = server.dir
    options = {  # the first value works (with the certificate's own host)
        "ssl_ca_certs": [server.ca, "/nowhere", server.ca.replace("/", "%2F")],
        "ssl_certfile": [f"{d}/client.crt", f"{d}/client.pem", f"{d}/stranger.pem"],
        "ssl_keyfile": [f"{d}/client-locked.key", f"{d}/client.key", f"{d}/stranger.key"],
        "ssl_password": [KEY_PASSWORD, "wrong", KEY_PASSWORD.replace(":", "%3A"), KEY_PASSWORD + "+"],
        "ssl_cert_reqs": ["required", "none", "optional", "REQUIRED"],
        "ssl_check_hostname": ["true", "false", "No", "f", "0", "yes", "%46alse", "off"],
        "db": ["0", "1", "x"],
        "socket_timeout": ["2"],
    }
    urls = []
    for _ in range(count):
        query = []
        for name, values in options.items():
            roll = rng.random()
            if name in ("db", "socket_timeout"):  # db: any; socket_timeout: an option the C route leaves
                if roll < (0.3 if name == "db" else 0.08):
                    query.append(f"{name}={rng.choice(values)}")
            elif roll < 0.8:
                query.append(f"{name}={values[0]}")
            elif roll < 0.94:
                query.append(f"{name}={rng.choice(values[1:])}")
        rng.shuffle(query)
        if query and rng.random() < 0.15:
            query.append(rng.choice(query).split("=")[0] + "=" + "no")  # given twice: redis-py reads the first
        login = rng.choice(["", "", "app:pw@", ":wrong@"])
        host = rng.choice(["127.0.0.1", "127.0.0.1", "localhost", "LocalHost"])
        path = rng.choice(["", "/", "/0", "/1"])
        urls.append(f"rediss://{login}{host}:{server.port}{path}?{'&'.join(query)}")
    return urls


def test_a_seeded_random_corpus_of_rediss_urls_is_read_as_python_reads_it(mutual_tls: tuple[RedisServer, Monitor]) -> None:
    """Whatever the C route takes, it connects to and logs in as Python would, or declines."""
    server = mutual_tls[0]
    code = "[broadcast('news', 'a'), getChannelHistory('news', 1, $p)]"
    server.client().acl_setuser("app", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"], commands=["+@all"])
    taken_by_c = connected = 0
    try:
        for url in _random_urls(seed=5, count=60, server=server):
            ini = {"pybroadcast.redis_url": url}
            (outcome, commands, python), (slow, slow_commands, _) = [
                run_case(*mutual_tls, code, extra) for extra in (ini, {**ini, **FORCE_PYTHON})]
            assert (_without_reason(outcome), commands) == (_without_reason(slow), slow_commands), url
            taken_by_c += not python
            connected += '"offset":1' in outcome
    finally:
        server.client().acl_deluser("app")
    assert taken_by_c >= 10 and connected > taken_by_c, (taken_by_c, connected)  # it reaches the C route


@pytest.mark.parametrize("variable, c_takes_it", [("SSL_CERT_DIR", True), ("SSL_CERT_FILE", False)])
def test_the_systems_cas_vouch_for_a_rediss_server_as_for_python(tls: tuple[RedisServer, Monitor],
                                                                   tmp_path: Any, variable: str, c_takes_it: bool) -> None:
    """No ssl_ca_certs: the system's CAs (OpenSSL's, which these variables move). The C route reads
    the CA directory only (the bundle file cost 16 ms a process): a server only the file vouches
    for is Python's to serve, which trusts both."""
    tls_server = tls[0]
    if variable == "SSL_CERT_DIR":
        with open(tls_server.ca, "rb") as ca:
            (tmp_path / "test-ca.pem").write_bytes(ca.read())
        subprocess.run(["openssl", "rehash", str(tmp_path)], check=True, capture_output=True)
        trusted = str(tmp_path)
    else:
        trusted = tls_server.ca
    outcome, _, python = same_both_ways(*tls, "[broadcast('news', 'a'), getChannelHistory('news', 1, $p)]",
                                        {"pybroadcast.redis_url": f"rediss://127.0.0.1:{tls_server.port}/0"},
                                        env={variable: trusted})
    assert "unreachable" not in outcome, outcome
    assert python is not c_takes_it, outcome


def test_a_password_is_used_and_never_shown(server: RedisServer) -> None:
    control = server.client()
    control.config_set("requirepass", "s3cr:et")
    try:
        for url in (f"redis://:s3cr:et@127.0.0.1:{server.port}/0", f"redis://default:s3cr:et@127.0.0.1:{server.port}/0"):
            with PhpWorker({"pybroadcast.driver": "redis", "pybroadcast.redis_url": url}) as php:
                assert php.call("return broadcast('news', 'a');") == "null|c"
        assert redis.Redis.from_url(url).xlen("pybroadcast:history:news:stream") == 2
        for wrong in (f"redis://:nope@127.0.0.1:{server.port}/0", f"redis://default:nope@LOCALHOST:{server.port}/0"):
            with PhpWorker({"pybroadcast.driver": "redis", "pybroadcast.redis_url": wrong}) as php:
                answer = php.call("return broadcast('news', 'a');")
            assert "nope" not in answer and ":***@" in answer and answer.endswith("|py"), answer
    finally:
        redis.Redis.from_url(f"redis://:s3cr:et@127.0.0.1:{server.port}/0").config_set("requirepass", "")


class PhpWorker:
    """A long-lived PHP process (as a php-fpm worker is) that runs one statement per call."""

    def __init__(self, ini: dict[str, str]) -> None:
        code = ("while (($line = fgets(STDIN)) !== false) { try { echo json_encode(eval(base64_decode($line))); }"
                " catch (Throwable $e) { echo get_class($e), '|', $e->getCode(), '|', $e->getMessage(); }"
                f" echo '|', {PHP_ENGINE}, \"\\n\"; }}")
        self.process = subprocess.Popen(php_command("-r", code, ini=ini), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def call(self, statement: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(base64.b64encode(statement.encode()).decode() + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().rstrip("\n")

    def __enter__(self) -> PhpWorker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.process.kill()
        self.process.wait(10)


def test_a_refusal_is_pythons_error(server: RedisServer) -> None:
    """A Redis out of memory refuses the publish script whole (it writes): the same error both ways."""
    control = server.client()
    control.flushall()
    control.config_set("maxmemory", "1")
    try:
        outcomes = [run_php("try { broadcast('news', 'a'); } catch (Throwable $e) { echo get_class($e), '|',"
                            " $e->getCode(), '|', $e->getMessage(); }",
                            ini={"pybroadcast.driver": "redis", "pybroadcast.redis_url": server.url, **extra}).stdout
                    for extra in ({}, FORCE_PYTHON)]
    finally:
        control.config_set("maxmemory", "0")
    assert outcomes == [f"PyBroadcast\\Exception|1|redis at {server.url} refused the request:"
                        " command not allowed when used memory > 'maxmemory'."] * 2


def _refused_both_ways(server: RedisServer, url: str) -> str:
    """broadcast() to `url` while the ACL user `app` (password pw) may run scripts by SHA1 but not
    load them and the default user may not run them: the C route's outcome, the same as Python's."""
    control = server.client()
    control.flushall()
    control.script_flush()
    control.acl_setuser("app", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
                        commands=["+@all", "-script|load"])
    control.acl_setuser("default", enabled=True, commands=["-evalsha"])  # (enabled: redis-py's default is off)
    try:
        (fast, c_python), (slow, python) = [php_outcome("broadcast('news', 'a')", {
            "pybroadcast.driver": "redis", "pybroadcast.redis_url": url, **extra}) for extra in ({}, FORCE_PYTHON)]
    finally:
        control.acl_setuser("default", enabled=True, commands=["+@all"])
        control.acl_deluser("app")
    assert (c_python, python) == (False, True)
    assert fast == slow, (fast, slow)
    return fast


def test_a_script_redis_will_not_load_is_pythons_error(either: tuple[RedisServer, Monitor]) -> None:
    """The same refusal both ways (over TLS too: logged in over TLS, and the URL shown as Python shows
    it, password hidden, options kept)."""
    server = either[0]
    scheme, query = ("rediss", f"?ssl_ca_certs={server.ca}") if server.tls else ("redis", "")
    fast = _refused_both_ways(server, f"{scheme}://app:pw@127.0.0.1:{server.port}/0{query}")
    assert fast.startswith(f"PyBroadcast\\Exception|1|redis at {scheme}://app:***@127.0.0.1:{server.port}/0{query}"
                                  " refused the request: this user has no permissions to run the 'script|load' command"), fast


@pytest.mark.parametrize("login", ["", "app:pw@"])
def test_a_keys_password_is_never_shown(mutual_tls: tuple[RedisServer, Monitor], login: str) -> None:
    """ssl_password's value is hidden where the C route shows the URL, as Python hides it."""
    server = mutual_tls[0]
    query = (f"?ssl_password={KEY_PASSWORD}&ssl_certfile={server.dir}/client.crt&ssl_ca_certs={server.ca}"
             f"&ssl_keyfile={server.dir}/client-locked.key")
    url = f"rediss://{login}127.0.0.1:{server.port}/0{query}"
    fast = _refused_both_ways(server, url)
    shown = url.replace(KEY_PASSWORD, "***").replace("app:pw@", "app:***@")
    assert fast.startswith(f"PyBroadcast\\Exception|1|redis at {shown} refused the request"), fast
    assert "pass-" not in fast


class HoldingProxy:
    """A TCP proxy to `port` that passes nothing of its first connection on until the client has sent
    `until`: a client that waits for a reply before it sends that never gets one."""

    def __init__(self, port: int, until: bytes) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._target, self._until, self._first = port, until, True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._target))
            held, self._first = self._first, False
            threading.Thread(target=self._pipe, args=(client, upstream, held), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, held: bool) -> None:
        pending = b""
        try:
            while chunk := source.recv(65536):
                if held:
                    pending += chunk
                    if self._until not in pending:
                        continue
                    chunk, pending, held = pending, b"", False
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def close(self) -> None:
        self._listener.close()


def test_a_connection_logs_in_in_one_round_trip(server: RedisServer) -> None:
    """AUTH, SELECT and PING go out together (they are three round trips to a remote Redis else)."""
    control = server.client()
    control.flushall()
    control.acl_setuser("app", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"], commands=["+@all"])
    proxy = HoldingProxy(server.port, until=b"PING")
    try:
        outcome, python = php_outcome("[broadcast('news', 'a'), getChannelHistory('news', 1, $p)]", {
            "pybroadcast.driver": "redis", "pybroadcast.redis_url": f"redis://app:pw@127.0.0.1:{proxy.port}/1"})
    finally:
        proxy.close()
        control.acl_deluser("app")
    assert python is False and '"offset":1' in outcome, outcome
    assert server.client(1).xlen("pybroadcast:history:news:stream") == 1


def test_no_redis_is_pythons_error(server: RedisServer, monitor: Monitor) -> None:
    port = free_port()
    result = run_php("try { broadcast('news', 'a'); } catch (Throwable $e) { echo get_class($e), '|', $e->getMessage(); }",
                     ini={"pybroadcast.driver": "redis", "pybroadcast.redis_url": f"redis://127.0.0.1:{port}/0"})
    assert result.stdout.startswith(f"PyBroadcast\\Exception|redis at redis://127.0.0.1:{port}/0 unreachable"), result.stdout


@pytest.mark.parametrize("tls", [False, True], ids=["redis", "rediss"])
def test_a_silent_redis_is_unconfirmed_within_a_second(tls: bool) -> None:
    """A real redis-server stopped (SIGSTOP) after the connection was made: the publish goes out,
    no answer comes; the error says so within about the command timeout, and nothing is resent."""
    silent = RedisServer(tls=tls)
    assert silent.process is not None
    try:
        with PhpWorker({"pybroadcast.driver": "redis", "pybroadcast.redis_url": silent.url}) as php:
            assert php.call("return broadcast('news', 'warm');") == "null|c"
            os.kill(silent.process.pid, signal.SIGSTOP)
            started = time.monotonic()
            answer = php.call("return broadcast('news', 'lost?');")
            took = time.monotonic() - started
            os.kill(silent.process.pid, signal.SIGCONT)
            assert answer == (f"PyBroadcast\\Exception|2|redis at {silent.url} did not confirm the publish:"
                              " Timeout reading from socket; it may still be delivered|c"), answer
            assert 0.9 <= took <= 3, took  # bounded by the 1 s command timeout, not a hang
            assert silent.client().xlen("pybroadcast:history:news:stream") == 2  # it ran once, when Redis woke
            assert php.call("return broadcast('news', 'after');") == "null|c"  # a new connection
    finally:
        os.kill(silent.process.pid, signal.SIGCONT)
        silent.stop()


@pytest.mark.parametrize("tls", [False, True], ids=["redis", "rediss"])
def test_a_long_lived_process_outlives_a_redis_restart(tls: bool) -> None:
    """php-fpm workers keep their connection: a Redis restart between requests is noticed before
    sending (the connection reads as closed), and the call reconnects."""
    restartable = RedisServer(tls=tls)
    try:
        with PhpWorker({"pybroadcast.driver": "redis", "pybroadcast.redis_url": restartable.url}) as php:
            assert php.call("return broadcast('news', 'one');") == "null|c"
            restartable.stop()
            restartable.start()  # empty: history starts again
            assert php.call("return broadcast('news', 'two');") == "null|c"
            assert php.call("return getChannelHistory('news');") == '[{"offset":1,"data":"two","event":null}]|c'
    finally:
        restartable.stop()


async def test_a_redis_hub_delivers_what_c_sent(make_hub: Any, redis_server: RedisServer) -> None:
    prefix = f"croute{os.getpid()}"
    options = {"driver": "redis", "redis_url": redis_server.url, "redis_prefix": prefix}
    hub = make_hub({"options": options})
    ws = await client(hub, "7")
    await ws.send('{"action": "subscribe", "channel": "news"}')
    await next_event(ws, "subscribed")
    ini = {f"pybroadcast.{k}": v for k, v in options.items()}
    result = hub.php(f"broadcast('news', {B('héllo 🎉')}, 'Ev'); broadcastToUser(7, 'to you');"
                     f" echo {PHP_ENGINE};", ini=ini)
    assert result.stdout == "c", result.stderr
    message = await next_event(ws, "message")
    assert (message["data"], message["name"], message["offset"]) == ("héllo 🎉", "Ev", 1)
    assert (await next_event(ws, "direct"))["data"] == "to you"
    await ws.close()


@pytest.mark.parametrize("tls", [False, True], ids=["redis", "rediss"])
def test_a_long_lived_process_keeps_one_connection(tls: bool) -> None:
    """One connection per process, made once (for TLS: one handshake, not one per call)."""
    own = RedisServer(tls=tls)
    try:
        stats = lambda: own.client().info("stats")["total_connections_received"]  # noqa: E731 (counts its own too)
        with PhpWorker({"pybroadcast.driver": "redis", "pybroadcast.redis_url": own.url}) as php:
            assert php.call("return broadcast('news', 'first');") == "null|c"
            before = stats()
            for n in range(5):
                assert php.call(f"return [broadcast('news', '{n}'), getChannelUsers('news')];") == "[null,[]]|c"
            assert stats() - before == 1  # the one stats() itself made
    finally:
        own.stop()


@pytest.mark.parametrize("tls", [False, True], ids=["redis", "rediss"])
def test_a_forked_child_makes_its_own_connection_and_the_parents_keeps_working(tls: bool) -> None:
    """php-fpm and pcntl fork processes that may have connected: a child sharing its parent's socket
    (and, with TLS, its session's keys and sequence numbers) would corrupt both streams."""
    own = RedisServer(tls=tls)
    try:
        code = ("broadcast('news', 'parent 1');"
                "$pid = pcntl_fork();"
                "if ($pid === 0) { broadcast('news', 'child'); echo json_encode(getChannelUsers('news')); exit(0); }"
                "pcntl_waitpid($pid, $status);"
                "broadcast('news', 'parent 2');"
                "echo '|', pcntl_wexitstatus($status), '|', json_encode(array_column(getChannelHistory('news'), 'data'));"
                f"echo '|', {PHP_ENGINE};")
        before = own.client().info("stats")["total_connections_received"]
        result = run_php(code, ini={"pybroadcast.driver": "redis", "pybroadcast.redis_url": own.url})
        assert result.stdout == '[]|0|["parent 1","child","parent 2"]|c', result.stdout + result.stderr
        assert own.client().info("stats")["total_connections_received"] - before == 3  # the parent, the child, this count
    finally:
        own.stop()
