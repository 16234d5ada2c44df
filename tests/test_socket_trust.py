"""Another local user must not be able to impersonate the hub (hardening).

The squatter is a real process running as ``nobody`` that binds the socket
path first, as an attacker on the same machine would.
"""

from __future__ import annotations

import os
import stat
import subprocess
from typing import Iterator

import pytest

from support import PHP, LogWatcher, client, recv_json, run_php, short_tempdir, subscribe

NOBODY = 65534

SQUATTER = r"""
$server = stream_socket_server('unix://' . $argv[1], $errno, $error) or exit("cannot bind: $error\n");
chmod($argv[1], 0666);
echo "READY\n";
while ($peer = @stream_socket_accept($server, 30)) {
    $data = (string) fread($peer, 65536);
    echo 'GOT ', strlen($data), "\n";
    fwrite($peer, '5:2:ok,,');  // a well-formed "ok", as a forger would answer
    fclose($peer);
}
"""


@pytest.fixture
def shared_dir() -> str:
    """A directory every user may write to, like /tmp."""
    path = short_tempdir()
    os.chmod(path, 0o1777)
    return path


@pytest.fixture
def squatter(shared_dir: str) -> Iterator[tuple[str, LogWatcher]]:
    path = os.path.join(shared_dir, "hub.sock")
    process = subprocess.Popen([PHP, "-n", "-r", SQUATTER, path], user=NOBODY, group=NOBODY,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = LogWatcher(process.stdout)
    log.wait_for("READY")
    yield path, log
    process.kill()
    process.wait(10)


def _call(code: str, ini: dict[str, str]) -> str:
    result = run_php(f"try {{ {code} echo 'DONE'; }} catch (PyBroadcast\\Exception $e) {{"
                     " echo $e->getCode(), '|', $e->getMessage(); }", ini=ini)
    assert not result.stderr, result.stderr
    return result.stdout


@pytest.mark.parametrize("code", [
    "broadcastToUser(42, 'reset token 1234');",
    "var_dump(getChannelUsers('presence-room'));",
])
def test_a_squatted_socket_is_refused_before_anything_is_sent(squatter, code: str) -> None:
    path, log = squatter
    out = _call(code, {"pybroadcast.socket": path})
    assert out.startswith("1|"), out  # NOT_SENT
    assert f"refusing the command socket {path}: it is served by uid {NOBODY}" in out
    assert not [line for line in log.lines if line.startswith("GOT") and line != "GOT 0"], log.lines


def test_socket_owner_trusts_a_hub_running_as_that_user(squatter) -> None:
    path, log = squatter
    for owner in ("nobody", str(NOBODY)):
        assert _call("broadcast('news', 'hello');", {"pybroadcast.socket": path, "pybroadcast.socket_owner": owner}) == "DONE"
    log.wait_for(r"GOT [1-9]", count=2)


def test_unknown_socket_owner_is_a_value_error() -> None:
    result = run_php("try { broadcast('a', 'b'); } catch (ValueError $e) { echo $e->getMessage(); }",
                     ini={"pybroadcast.socket_owner": "no-such-user-here"})
    assert "socket_owner 'no-such-user-here' is not a user" in result.stdout, result.stdout + result.stderr


def _run_hub(tmpdir: str, socket: str = "") -> str:
    """Start a hub (default socket under `tmpdir` unless given) and return why it would not run."""
    code = ("$s = new PyBroadcast\\Server(['listen' => '127.0.0.1:0', 'socket' => getenv('SOCK')]);"
            "$s->onAuthenticate(fn() => 1);"
            "try { $s->run(); echo 'RAN'; } catch (PyBroadcast\\Exception $e) { echo $e->getMessage(); }")
    return run_php(code, env={"TMPDIR": tmpdir, "SOCK": socket}, timeout=30).stdout


def test_hub_refuses_a_default_directory_another_user_created(shared_dir: str) -> None:
    squatted = os.path.join(shared_dir, f"pybroadcast-{os.geteuid()}")
    os.mkdir(squatted, 0o700)
    os.chown(squatted, NOBODY, NOBODY)
    assert f"belongs to uid {NOBODY}, not to this hub's uid {os.geteuid()}" in _run_hub(shared_dir)


def test_hub_refuses_a_default_directory_open_to_others(shared_dir: str) -> None:
    loose = os.path.join(shared_dir, f"pybroadcast-{os.geteuid()}")
    os.mkdir(loose)
    os.chmod(loose, 0o777)
    assert "is open to other users (mode 777)" in _run_hub(shared_dir)


def test_hub_refuses_a_socket_path_another_user_holds(squatter, shared_dir: str) -> None:
    path, _ = squatter
    assert f"command socket {path} already exists and belongs to uid {NOBODY}" in _run_hub(shared_dir, path)


def test_hub_refuses_a_world_writable_directory_without_sticky_bit() -> None:
    loose = short_tempdir()
    os.chmod(loose, 0o777)
    assert "writable by every user without the sticky bit" in _run_hub(loose, os.path.join(loose, "hub.sock"))


async def test_default_socket_lives_in_a_private_directory_and_works(make_hub) -> None:
    tmpdir = short_tempdir()
    hub = make_hub({"options": {"socket": ""}}, env={"TMPDIR": tmpdir})
    directory = os.path.join(tmpdir, f"pybroadcast-{os.geteuid()}")
    info = os.lstat(directory)
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.geteuid()
    ws = await client(hub)
    await subscribe(ws, "news")
    result = run_php("broadcast('news', 'via the default socket');", env={"TMPDIR": tmpdir})
    assert result.returncode == 0, result.stderr
    assert (await recv_json(ws))["data"] == "via the default socket"
    await ws.close()
