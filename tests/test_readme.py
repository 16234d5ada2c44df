"""The README's examples as written. The Quick start: its hub.php authenticates from the app's PHP
session, authorizes, runs the join and leave hooks and stops on SIGTERM; its app line reaches a
client. The systemd unit: its environment is all a hub needs. (The nginx block: test_nginx.py.)"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from support import ORIGIN, ROOT, Hub, LogWatcher, free_port, php_command, recv_json, run_php, subscribe


def quick_start() -> list[str]:
    """The PHP blocks of the README's Quick start: the hub, then the app."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```php\n(.*?)```", section, re.S)
    assert len(blocks) == 2, blocks
    return blocks


@pytest.fixture
def readme_hub(make_hub) -> Iterator[Hub]:
    hub_php, _ = quick_start()
    port = free_port()
    assert "':8080'" in hub_php and "'https://app.example.com'" in hub_php
    script = hub_php.replace("':8080'", f"'127.0.0.1:{port}'").replace("'https://app.example.com'", repr(ORIGIN))
    with tempfile.NamedTemporaryFile("w", suffix=".php", delete=False) as out:
        out.write(script)
    hub = make_hub({"options": {"listen": f"127.0.0.1:{port}"}}, script=out.name)
    hub.port = port  # the script's own address
    yield hub
    os.unlink(out.name)


@pytest.fixture
def alice() -> Iterator[str]:
    """What the app's login page does: a PHP session holding the user (in PHP's default save path,
    where the hub's CLI looks too); its id."""
    result = run_php("session_start(); $_SESSION['user_id'] = 'alice'; session_write_close();"
                     " echo session_id(), ' ', session_save_path() ?: sys_get_temp_dir();")
    session, _, where = result.stdout.partition(" ")
    assert result.returncode == 0 and re.fullmatch(r"[a-v0-9]{26,}", session), result
    yield session
    os.unlink(os.path.join(where, f"sess_{session}"))


async def test_the_readme_quick_start_works_as_written(readme_hub: Hub, alice: str) -> None:
    hub = readme_hub
    _, app_php = quick_start()
    url = f"ws://127.0.0.1:{hub.port}/ws"
    with pytest.raises(InvalidStatus) as refused:  # no session: onAuthenticate returns null
        await connect(url, origin=ORIGIN, open_timeout=10)
    assert refused.value.response.status_code == 401
    ws = await connect(url, origin=ORIGIN, open_timeout=10, additional_headers={"Cookie": f"PHPSESSID={alice}"})
    connected = await recv_json(ws)
    assert connected["event"] == "connected" and connected["user"] == "alice"
    assert (await subscribe(ws, "news"))["event"] == "subscribed"
    assert hub.php(app_php).returncode == 0
    message = await recv_json(ws)
    assert message["channel"] == "news" and message["data"] == "Hello, everyone"
    assert (await subscribe(ws, "private-user-alice"))["event"] == "subscribed"
    assert (await subscribe(ws, "private-user-bob"))["event"] == "error"
    assert (await subscribe(ws, "presence-lobby"))["event"] == "subscribed"
    hub.log.wait_for(r"alice joined presence-lobby")
    assert hub.stop(signal.SIGTERM) == 0  # run() returned
    with pytest.raises(ConnectionClosed):
        while True:
            await recv_json(ws)
    assert ws.close_code == 1001
    assert hub.log.matching(r"alice left presence-lobby")


async def test_the_readme_systemd_units_environment_configures_a_hub_that_stops_on_its_kill_signal(tmp_path) -> None:
    """The unit's Environment= lines (addresses replaced) are all a hub with no options needs."""
    unit = re.search(r"```ini\n(# /etc/systemd/system/pybroadcast.service.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert unit, "the README's systemd unit"
    env = dict(line.split("=", 2)[1:] for line in unit.group(1).splitlines() if line.startswith("Environment="))
    assert set(env) == {"SERVER_ADDRESS", "ALLOWED_ORIGINS", "PYBROADCAST_SOCKET"}, env
    assert re.search(r"^KillSignal=SIGTERM$", unit.group(1), re.M)
    port = free_port()
    env.update(SERVER_ADDRESS=f"127.0.0.1:{port}", PYBROADCAST_SOCKET=str(tmp_path / "hub.sock"))
    script = tmp_path / "hub.php"
    script.write_text("<?php\n$s = new PyBroadcast\\Server();\n$s->onAuthenticate(fn($r) => 'u1');\n$s->run();\n")
    hub = subprocess.Popen(php_command(str(script)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env={**os.environ, **env})
    try:
        LogWatcher(hub.stdout).wait_for("listening on", timeout=20)
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"ws://127.0.0.1:{port}/ws", origin=ORIGIN, open_timeout=10)
        assert refused.value.response.status_code == 403  # not the unit's ALLOWED_ORIGINS
        async with connect(f"ws://127.0.0.1:{port}/ws", origin=env["ALLOWED_ORIGINS"], open_timeout=10) as ws:
            assert (await recv_json(ws))["event"] == "connected"
            assert (await subscribe(ws, "news"))["event"] == "subscribed"
            sent = run_php("broadcast('news', 'from the unit');", env={"PYBROADCAST_SOCKET": env["PYBROADCAST_SOCKET"]})
            assert sent.returncode == 0 and not sent.stderr, sent.stdout + sent.stderr
            assert (await recv_json(ws))["data"] == "from the unit"
            hub.send_signal(signal.SIGTERM)
            assert hub.wait(30) == 0
    finally:
        if hub.poll() is None:
            hub.kill()
            hub.wait(10)
