"""send_many: one buffer to many sockets; compiled (a C loop) and as plain Python, one contract.

Real sockets (Unix stream pairs; what they do on a full buffer or a gone peer is what TCP's do).
"""

from __future__ import annotations

import importlib.util
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

import pybroadcast.send_many as compiled

SOURCE = Path(compiled.__file__).with_name("send_many.py")


def from_source() -> ModuleType:
    """The module's .py run by Python itself (the package as run from source)."""
    spec = importlib.util.spec_from_file_location("send_many_source", SOURCE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_hub_runs_the_compiled_loop() -> None:
    assert not compiled.__file__.endswith(".py")
    assert not from_source().cython.compiled


@pytest.fixture(params=["compiled", "source"])
def send_many(request: pytest.FixtureRequest) -> Callable[[list[int], bytes], list[tuple[int, int]]]:
    return compiled.send_many if request.param == "compiled" else from_source().send_many


@pytest.fixture
def pairs() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    made = [socket.socketpair() for _ in range(4)]
    for ours, _ in made:
        ours.setblocking(False)
    yield made
    for ours, theirs in made:
        ours.close()
        theirs.close()


def fill(sock: socket.socket) -> None:
    while True:
        try:
            sock.send(b"x" * 65536)
        except BlockingIOError:
            return


def test_each_socket_gets_the_buffer_once_and_those_that_took_less_are_named(send_many, pairs) -> None:  # type: ignore[no-untyped-def]
    (a, a_peer), (full, _), (gone, gone_peer), (b, b_peer) = pairs
    fill(full)
    gone_peer.close()
    data = b"frame-" * 20
    assert send_many([a.fileno(), full.fileno(), gone.fileno(), b.fileno()], data) == [(1, 0), (2, 0)]
    assert a_peer.recv(4096) == data and b_peer.recv(4096) == data
    assert send_many([a.fileno(), b.fileno()], data) == []
    assert a_peer.recv(4096) == data and b_peer.recv(4096) == data


def test_a_socket_that_takes_part_is_told_how_much(send_many, pairs) -> None:  # type: ignore[no-untyped-def]
    (ours, theirs), *_ = pairs
    data = bytes(range(256)) * 40_000  # ~10 MB: more than a socket buffer holds
    [(index, taken)] = send_many([ours.fileno()], data)
    assert index == 0 and 0 < taken < len(data)
    got = b""
    theirs.setblocking(False)
    while len(got) < taken:
        got += theirs.recv(1 << 20)
    assert got == data[:taken]  # exactly what was reported, nothing more


def test_a_gone_peer_is_an_error_not_a_signal() -> None:
    """Sent with MSG_NOSIGNAL: a process that has not ignored SIGPIPE (the embedding may not) lives on."""
    script = (
        "import signal, socket; signal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
        "from pybroadcast.send_many import send_many\n"
        "ours, theirs = socket.socketpair(); theirs.close()\n"
        "print(send_many([ours.fileno()], b'x'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            cwd=SOURCE.parent.parent)
    assert result.returncode == 0, (result.returncode, -signal.SIGPIPE, result.stderr)
    assert result.stdout.strip() == "[(0, 0)]"
