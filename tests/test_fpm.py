"""broadcast() from real php-fpm workers, including after they are recycled."""

from __future__ import annotations

import base64
import glob
import json
import os
import subprocess
import urllib.parse

import pytest

from harness.redis_server import RedisServer
from support import EXT, ROOT, Hub, LogWatcher, client, free_port, next_event, short_tempdir, subscribe

SEND = str(ROOT / "tests" / "php" / "send.php")


def fpm_binary() -> str:
    found = sorted(glob.glob("/usr/sbin/php-fpm*"))
    if not found:
        pytest.fail("php-fpm is not installed (make test installs it)")
    return found[-1]


class Fpm:
    """php-fpm, master loading the extension (as from php.ini), 2 workers recycled every 3 requests."""

    def __init__(self, socket_path: str, max_requests: int = 3, children: int = 2,
                 settings: dict[str, str] | None = None) -> None:
        self.dir = short_tempdir()
        self.port = free_port()
        conf = os.path.join(self.dir, "fpm.conf")
        with open(conf, "w") as f:
            f.write(f"""[global]
error_log = /proc/self/fd/2
daemonize = no
log_level = notice
[app]
listen = 127.0.0.1:{self.port}
pm = static
pm.max_children = {children}
pm.max_requests = {max_requests}
clear_env = yes
catch_workers_output = yes
php_admin_value[pybroadcast.socket] = {socket_path}
""" + "".join(f'php_admin_value[pybroadcast.{k}] = "{v}"\n' for k, v in (settings or {}).items()))
        self.process = subprocess.Popen(
            [fpm_binary(), "-n", "-d", f"extension={EXT}", "-y", conf, "-F", "-R"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.log = LogWatcher(self.process.stdout)
        self.log.wait_for(r"ready to handle connections")

    def get(self, script: str, query: dict[str, str]) -> tuple[str, dict]:
        env = {"SCRIPT_FILENAME": script, "REQUEST_METHOD": "GET", "QUERY_STRING": urllib.parse.urlencode(query),
               "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1", "PATH": os.environ.get("PATH", "")}
        out = subprocess.run(["cgi-fcgi", "-bind", "-connect", f"127.0.0.1:{self.port}"],
                             env=env, capture_output=True, timeout=30).stdout.decode()
        headers, _, body = out.partition("\r\n\r\n")
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
