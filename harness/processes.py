"""Running real processes for the tests and the benchmarks: PHP with the built
extension, free ports, short socket directories, and waiting on log lines."""

from __future__ import annotations

import asyncio
import base64
import glob
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PHP = os.environ.get("PHP", "php")
EXT = os.environ.get("EXT", str(ROOT / "modules" / "pybroadcast.so"))
ORIGIN = "http://app.test"


def ini_args(ini: dict[str, str] | None) -> list[str]:
    """php.ini entries as command-line options (-d), for php and php-fpm alike."""
    args = []
    for name, value in (ini or {}).items():
        if any(c in value for c in '=;&|"'):  # the INI parser would cut the value short
            value = f'"{value}"'
        args += ["-d", f"{name}={value}"]
    return args


def php_command(*args: str, ini: dict[str, str] | None = None, ext: str | None = None) -> list[str]:
    """php with no php.ini but the extension (the build's, or `ext`): the same on every machine."""
    return [PHP, "-n", "-d", f"extension={ext or EXT}", *ini_args(ini), *args]


def fpm_config(port: int, workers: int, max_requests: int, pool_lines: str = "") -> str:
    """php-fpm's configuration: one static pool on 127.0.0.1:`port` (`max_requests` 0: workers
    are never recycled), the log on stderr; `pool_lines`: more of the pool's settings."""
    return f"""[global]
error_log = /proc/self/fd/2
daemonize = no
log_level = notice
[app]
listen = 127.0.0.1:{port}
pm = static
pm.max_children = {workers}
pm.max_requests = {max_requests}
clear_env = yes
{pool_lines}"""


def fpm_command(config: str, ini: dict[str, str] | None = None) -> list[str]:
    """php-fpm in the foreground with the configuration file `config`, no php.ini but the extension
    (loaded by the master, as php.ini loads it) and `ini` (read by the master too); run as root
    (-R), so that a pool may name the workers' user."""
    found = sorted(glob.glob("/usr/sbin/php-fpm*"))
    if not found:
        raise FileNotFoundError("php-fpm is not installed (make test installs it)")
    return [found[-1], "-n", "-d", f"extension={EXT}", *ini_args(ini), "-y", config, "-F", "-R"]


def fastcgi_get(port: int, script: str, query: dict[str, Any], timeout: float = 30) -> tuple[str, str]:
    """A GET of `script` from the FastCGI server (php-fpm) on 127.0.0.1:`port`: (headers, body)."""
    env = {"SCRIPT_FILENAME": script, "REQUEST_METHOD": "GET", "QUERY_STRING": urllib.parse.urlencode(query),
           "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1", "PATH": os.environ.get("PATH", "")}
    out = subprocess.run(["cgi-fcgi", "-bind", "-connect", f"127.0.0.1:{port}"], env=env, capture_output=True,
                         timeout=timeout).stdout.decode()
    headers, _, body = out.partition("\r\n\r\n")
    return headers, body


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """A process's resident memory now (KiB), as /proc reports it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run_php(code: str, ini: dict[str, str] | None = None, env: dict[str, str] | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(php_command("-r", code, ini=ini), capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


# A PHP expression: 'py' once the process has loaded libpython (a call went the Python way), else 'c'.
PHP_ENGINE = "(str_contains(file_get_contents('/proc/self/maps'), 'libpython') ? 'py' : 'c')"


def php_string(text: str) -> str:
    """A PHP expression for exactly these bytes."""
    return f"base64_decode('{base64.b64encode(text.encode()).decode()}')"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def short_tempdir() -> str:
    """Unix socket paths are limited to 107 bytes: keep them short."""
    return tempfile.mkdtemp(prefix="pyb", dir="/tmp")


class LogWatcher:
    """Collects a stream's lines on a thread; tests await lines instead of sleeping."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._closed = False
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float = 10.0, count: int = 1) -> list[re.Match[str]]:
        """Wait until `count` lines match; returns the matches."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in map(regex.search, self.lines) if m]
                if len(found) >= count:
                    return found[:count]
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    raise AssertionError(
                        f"no {count} line(s) matching {pattern!r}; log so far:\n" + "\n".join(self.lines[-40:])
                    )
                self._cond.wait(remaining)

    def matching(self, pattern: str) -> list[str]:
        regex = re.compile(pattern)
        with self._cond:
            return [line for line in self.lines if regex.search(line)]

    async def await_for(self, pattern: str, timeout: float = 10.0, count: int = 1) -> list[re.Match[str]]:
        return await asyncio.to_thread(self.wait_for, pattern, timeout, count)


