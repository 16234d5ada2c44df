"""The README's Quick start, as written: its hub.php authenticates from the app's PHP session,
authorizes, runs the join and leave hooks and stops on SIGTERM; its app line reaches the browser."""

from __future__ import annotations

import os
import re
import signal
import tempfile
from collections.abc import Iterator

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
