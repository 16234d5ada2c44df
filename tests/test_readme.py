"""The README's examples as written. The Quick start: its hub.php authenticates from the app's PHP
session, authorizes, runs the join and leave hooks and stops on SIGTERM; its app line reaches a
client. The systemd unit: its environment is all a hub needs. (The nginx block: test_nginx.py.)"""

from __future__ import annotations

import os
import re
import signal
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from support import ORIGIN, ROOT, Hub, free_port, recv_json, run_php, subscribe


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


def unit_environment(first_line: str) -> dict[str, str]:
    """The Environment= lines of the README's systemd unit that starts with `first_line`; its
    KillSignal is SIGTERM, as the hub expects."""
    unit = re.search(rf"```ini\n({re.escape(first_line)}.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert unit, f"the README's unit {first_line}"
    assert re.search(r"^KillSignal=SIGTERM$", unit.group(1), re.M)
    return dict(line.split("=", 2)[1:] for line in unit.group(1).splitlines() if line.startswith("Environment="))


def unit_hub(make_hub, script_dir: Any, env: dict[str, str]) -> Hub:
    """A hub.php that passes no options, as the units run it, configured by the unit's `env`."""
    script = script_dir / "hub.php"
    script.write_text("<?php\n$s = new PyBroadcast\\Server();\n$s->onAuthenticate(fn($r) => 'u1');\n$s->run();\n")
    hub = make_hub({"options": {"listen": env["SERVER_ADDRESS"]}}, script=str(script), env=env)
    hub.port = int(env["SERVER_ADDRESS"].rsplit(":", 1)[1])
    return hub


async def test_the_readme_systemd_units_environment_configures_a_hub_that_stops_on_its_kill_signal(make_hub, tmp_path) -> None:
    env = unit_environment("# /etc/systemd/system/pybroadcast.service")
    assert set(env) == {"SERVER_ADDRESS", "ALLOWED_ORIGINS", "PYBROADCAST_SOCKET"}, env
    port = free_port()
    env.update(SERVER_ADDRESS=f"127.0.0.1:{port}", PYBROADCAST_SOCKET=str(tmp_path / "hub.sock"))
    hub = unit_hub(make_hub, tmp_path, env)
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"ws://127.0.0.1:{port}/ws", origin=ORIGIN, open_timeout=10)
    assert refused.value.response.status_code == 403  # not the unit's ALLOWED_ORIGINS
    async with connect(f"ws://127.0.0.1:{port}/ws", origin=env["ALLOWED_ORIGINS"], open_timeout=10) as ws:
        assert (await recv_json(ws))["event"] == "connected"
        assert (await subscribe(ws, "news"))["event"] == "subscribed"
        sent = run_php("broadcast('news', 'from the unit');", env={"PYBROADCAST_SOCKET": env["PYBROADCAST_SOCKET"]})
        assert sent.returncode == 0 and not sent.stderr, sent.stdout + sent.stderr
        assert (await recv_json(ws))["data"] == "from the unit"
        assert hub.stop(signal.SIGTERM) == 0


async def test_the_readme_template_unit_runs_hubs_on_one_port_through_redis(make_hub, tmp_path, redis_server) -> None:
    env = unit_environment("# /etc/systemd/system/pybroadcast@.service")
    assert env["PYBROADCAST_DRIVER"] == "redis" and env["PYBROADCAST_REUSE_PORT"] == "on", env
    port = free_port()
    env.update(SERVER_ADDRESS=f"127.0.0.1:{port}", PYBROADCAST_REDIS_URL=redis_server.url,
               PYBROADCAST_REDIS_PREFIX=f"unit{port}")
    hubs = []
    for instance in ("1", "2"):  # pybroadcast@1, pybroadcast@2: the same environment
        (tmp_path / instance).mkdir()
        hubs.append(unit_hub(make_hub, tmp_path / instance, env))
    # The unit sets no ALLOWED_ORIGINS: the harness's origin, as for every test hub.
    clients = [await connect(f"ws://127.0.0.1:{port}/ws", origin=ORIGIN, open_timeout=10) for _ in range(6)]
    for ws in clients:
        assert (await recv_json(ws))["event"] == "connected"
        assert (await subscribe(ws, "news"))["event"] == "subscribed"
    app_env = {k: v for k, v in env.items() if k in ("PYBROADCAST_DRIVER", "PYBROADCAST_REDIS_URL",
                                                       "PYBROADCAST_REDIS_PREFIX")}
    sent = run_php("broadcast('news', 'every core');", env=app_env)
    assert sent.returncode == 0 and not sent.stderr, sent.stdout + sent.stderr
    for ws in clients:
        assert (await recv_json(ws))["data"] == "every core"
        await ws.close()
    assert [hub.stop(signal.SIGTERM) for hub in hubs] == [0, 0]
