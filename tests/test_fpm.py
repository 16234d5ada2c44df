"""broadcast() from real php-fpm workers, including after they are recycled."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from unittest.mock import ANY

import pytest

from harness.processes import fastcgi_get, fpm_command, fpm_config, rss_kib, run_php
from harness.redis_server import RedisServer, another_ca
from support import ROOT, Hub, LogWatcher, client, free_port, next_event, short_tempdir, subscribe

SEND = str(ROOT / "tests" / "php" / "send.php")


class Fpm:
    """php-fpm, master loading the extension (as from php.ini), 2 workers recycled every 3 requests."""

    def __init__(self, socket_path: str, max_requests: int = 3, children: int = 2,
                 settings: dict[str, str] | None = None, php_ini: dict[str, str] | None = None,
                 user: str | None = None) -> None:
        """`settings`: the pool's (php_admin_value, applied in each worker); `php_ini`: php.ini's (-d),
        which the master reads too; `user`: the workers' (the master stays root)."""
        self.dir = short_tempdir()
        self.port = free_port()
        pool = ["catch_workers_output = yes", f"php_admin_value[pybroadcast.socket] = {socket_path}"]
        pool += [f"user = {user}", "group = nogroup"] if user else []
        pool += [f'php_admin_value[pybroadcast.{k}] = "{v}"' for k, v in (settings or {}).items()]
        conf = os.path.join(self.dir, "fpm.conf")
        with open(conf, "w") as f:
            f.write(fpm_config(self.port, children, max_requests, "\n".join(pool) + "\n"))
        self.process = subprocess.Popen(fpm_command(conf, {f"pybroadcast.{k}": v for k, v in (php_ini or {}).items()}),
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.log = LogWatcher(self.process.stdout)
        self.log.wait_for(r"ready to handle connections")

    def get(self, script: str, query: dict[str, str]) -> tuple[str, dict]:
        headers, body = fastcgi_get(self.port, script, query)
        return headers, json.loads(body)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(20)


@pytest.fixture
def fpm(hub: Hub):
    server = Fpm(hub.socket)
    yield server
    server.close()


async def test_fpm_workers_broadcast_byte_identical_across_recycling(hub: Hub, fpm: Fpm) -> None:
    ws = await client(hub)
    await subscribe(ws, "fpm")
    pids = []
    for i in range(12):
        message = f"#{i} héllo \"quotes\" <i>html</i> 🎉"
        _, body = fpm.get(SEND, {"channel": "fpm", "message64": base64.b64encode(message.encode()).decode()})
        assert body["ok"] is True, body
        pids.append(body["pid"])
        assert (await next_event(ws, "message"))["data"] == message
    # 2 workers, each recycled after 3 requests: 12 requests need at least 4 processes.
    assert len(set(pids)) >= 4, pids
    assert not fpm.log.matching(r"SIGSEGV|exited on signal|core dumped"), fpm.log.lines
    await ws.close()


async def test_fpm_worker_gets_exception_when_hub_is_down_and_survives(hub: Hub) -> None:
    fpm = Fpm(os.path.join(short_tempdir(), "absent.sock"), max_requests=100)
    try:
        for _ in range(3):
            headers, body = fpm.get(SEND, {"channel": "fpm", "message": "x"})
            assert "500" in headers.split("\r\n")[0] or "Status: 500" in headers, headers
            assert body["error"].startswith("PyBroadcast\\Exception: pybroadcast hub unreachable at unix socket")
        assert not fpm.log.matching(r"SIGSEGV|exited on signal")
    finally:
        fpm.close()


@pytest.mark.parametrize("tls", [False, True], ids=["redis", "rediss"])
async def test_fpm_worker_keeps_one_redis_connection_across_requests(make_hub, redis_server, tls: bool) -> None:
    if tls:
        redis_server = RedisServer(tls=True)  # rediss://: the worker's TLS session outlives its requests too
    options = {"driver": "redis", "redis_url": redis_server.url, "redis_prefix": f"fpm{os.getpid()}"}
    hub = make_hub({"options": options})
    ws = await client(hub)
    await subscribe(ws, "fpm")
    fpm = Fpm(hub.socket, max_requests=100, children=1, settings=options)
    redis = redis_server.client()
    try:
        counts, pids = [], set()
        for i in range(6):
            _, body = fpm.get(SEND, {"channel": "fpm", "message": f"r{i}"})
            assert body["ok"] is True, body
            assert body["python"] is False  # the C route, TLS or not
            pids.add(body["pid"])
            assert (await next_event(ws, "message"))["data"] == f"r{i}"
            counts.append(redis.info("stats")["total_connections_received"])
        assert len(pids) == 1  # one worker served them all...
        assert len(set(counts)) == 1, counts  # ...and no request after the first opened a connection
    finally:
        fpm.close()
        if tls:
            redis_server.stop()
    await ws.close()


def test_fpm_master_sets_up_openssl_for_its_workers_only_for_a_rediss_url() -> None:
    """With a rediss:// URL in php.ini, php-fpm's master prepares TLS for its workers before it forks
    (pyb_fast_prefork, redis_tls.c: ~1.5 ms of each worker's first call); with redis://, or in the
    CLI, nothing. Seen as what the master holds: OpenSSL's tables and caches, ~1.6 MiB (measured);
    start-to-start differences between the same processes are ~0.2 MiB."""
    def fpm_master(url: str) -> int:
        fpm = Fpm(os.path.join(short_tempdir(), "unused.sock"), php_ini={"driver": "redis", "redis_url": url})
        try:
            return rss_kib(fpm.process.pid)
        finally:
            fpm.close()

    def cli(url: str) -> int:
        done = run_php('preg_match("/VmRSS:\\s+(\\d+)/", file_get_contents("/proc/self/status"), $m); echo $m[1];',
                       ini={"pybroadcast.driver": "redis", "pybroadcast.redis_url": url})
        assert done.returncode == 0, done.stderr
        return int(done.stdout)

    plain, tls = "redis://127.0.0.1:1/0", "rediss://127.0.0.1:1/0"
    assert fpm_master(tls) - fpm_master(plain) > 400
    assert abs(cli(tls) - cli(plain)) < 400


async def test_fpm_workers_forked_after_the_set_up_verify_the_server(make_hub, tmp_path) -> None:
    """Fresh workers (one request each) of a master that set OpenSSL up: each publishes over TLS
    from C; with a CA that did not sign the server's certificate, each is refused."""
    stranger_ca = another_ca(str(tmp_path))
    redis_server = RedisServer(tls=True)
    started: list[Fpm] = []
    try:
        options = {"driver": "redis", "redis_url": redis_server.url, "redis_prefix": f"fpm{os.getpid()}"}
        hub = make_hub({"options": options})
        ws = await client(hub)
        await subscribe(ws, "fpm")
        fpm = Fpm(hub.socket, max_requests=1, children=1, php_ini=options)
        started.append(fpm)
        stranger = {**options, "redis_url": redis_server.url.replace(redis_server.ca, stranger_ca)}
        refused = Fpm(hub.socket, max_requests=1, children=1, php_ini=stranger)
        started.append(refused)
        pids = set()
        for i in range(3):
            _, body = fpm.get(SEND, {"channel": "fpm", "message": f"t{i}"})
            assert body["ok"] is True and body["python"] is False, body
            pids.add(body["pid"])
            assert (await next_event(ws, "message"))["data"] == f"t{i}"
        assert len(pids) == 3
        for _ in range(2):
            _, body = refused.get(SEND, {"channel": "fpm", "message": "never"})
            assert body["ok"] is False and "unreachable" in body["error"], body
            assert "certificate verify failed" in body["error"], body
        for server in started:
            assert not server.log.matching(r"SIGSEGV|exited on signal"), server.log.lines
        await ws.close()
    finally:
        for server in started:
            server.close()
        redis_server.stop()


async def test_fpm_workers_trust_the_ca_file_as_it_is_when_they_start(tmp_path) -> None:
    """The master reads ssl_ca_certs before it forks (redis_tls.c); a worker takes what it read only
    while the file is the same: replaced by another CA's (rewritten in place, or renamed over),
    fresh workers trust the new one, and the server's again once it is back."""
    wrong = open(another_ca(str(tmp_path))).read()
    redis_server = RedisServer(tls=True)
    right = open(redis_server.ca).read()
    ca = tmp_path / "ca.pem"
    ca.write_text(right)
    fpm = None
    try:
        options = {"driver": "redis", "redis_url": f"rediss://127.0.0.1:{redis_server.port}/0?ssl_ca_certs={ca}",
                   "redis_prefix": f"fpm{os.getpid()}"}
        fpm = Fpm(os.path.join(short_tempdir(), "unused.sock"), max_requests=1, children=1, php_ini=options)

        def send() -> dict:
            _, body = fpm.get(SEND, {"channel": "fpm", "message": "m"})
            return body

        assert send() == {"ok": True, "python": False, "pid": ANY}
        ca.write_text(wrong)
        refused = send()
        assert refused["ok"] is False and "certificate verify failed" in refused["error"], refused
        ca.write_text(right)
        assert send() == {"ok": True, "python": False, "pid": ANY}
        (tmp_path / "next.pem").write_text(wrong)
        os.replace(tmp_path / "next.pem", ca)
        refused = send()
        assert refused["ok"] is False and "certificate verify failed" in refused["error"], refused
        assert not fpm.log.matching(r"SIGSEGV|exited on signal"), fpm.log.lines
    finally:
        if fpm:
            fpm.close()
        redis_server.stop()


async def test_fpm_workers_do_not_trust_a_ca_file_they_cannot_read() -> None:
    """The master (root) can read a CA file its workers (nobody) cannot: they must not trust it."""
    redis_server = RedisServer(tls=True)
    shared = short_tempdir()
    os.chmod(shared, 0o755)
    ca = os.path.join(shared, "ca.pem")
    with open(redis_server.ca) as f, open(ca, "w") as out:
        out.write(f.read())
    os.chmod(ca, 0o600)
    started: list[Fpm] = []
    try:
        options = {"driver": "redis", "redis_url": f"rediss://127.0.0.1:{redis_server.port}/0?ssl_ca_certs={ca}",
                   "redis_prefix": f"fpm{os.getpid()}"}
        fpm = Fpm(os.path.join(short_tempdir(), "unused.sock"), max_requests=1, children=1, php_ini=options,
                  user="nobody")
        started.append(fpm)
        _, body = fpm.get(SEND, {"channel": "fpm", "message": "m"})
        assert body["ok"] is False, body  # the C route declined; Python then fails to read it too
        os.chmod(ca, 0o644)  # the same file, readable: the workers trust it, from C
        _, body = fpm.get(SEND, {"channel": "fpm", "message": "m"})
        assert body["ok"] is True and body["python"] is False, body
        assert not fpm.log.matching(r"SIGSEGV|exited on signal"), fpm.log.lines
    finally:
        for server in started:
            server.close()
        redis_server.stop()
