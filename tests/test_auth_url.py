"""auth_url: without onAuthenticate the hub asks the app over HTTP, forwarding Cookie and Authorization."""

from __future__ import annotations

import re
import subprocess

import pytest
from websockets.exceptions import InvalidStatus

from support import ROOT, Hub, free_port, open_client, php_command, recv_json


@pytest.fixture
def auth_hub(make_hub):
    port = free_port()
    web = subprocess.Popen(php_command("-S", f"127.0.0.1:{port}", "-t", str(ROOT / "tests" / "php")),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in web.stderr:
        if "started" in line:
            break
    hub = make_hub({"authenticate": "none", "options": {"auth_url": f"http://127.0.0.1:{port}/auth_header.php"}})
    yield hub
    web.terminate()
    web.wait(10)


async def test_cookie_is_forwarded(auth_hub: Hub) -> None:
    ws = await open_client(auth_hub, user=None, additional_headers={"Cookie": "user=12"})
    assert (await recv_json(ws))["user"] == "12"
    await ws.close()


async def test_authorization_header_is_forwarded(auth_hub: Hub) -> None:
    ws = await open_client(auth_hub, user=None, additional_headers={"Authorization": "Bearer token-ann"})
    assert (await recv_json(ws))["user"] == "ann"
    await ws.close()


async def test_non_2xx_rejects_with_401(auth_hub: Hub) -> None:
    with pytest.raises(InvalidStatus) as caught:
        await open_client(auth_hub, user=None, additional_headers={"Authorization": "Bearer nope!"})
    assert caught.value.response.status_code == 401


async def test_unreachable_auth_url_rejects_and_is_logged(make_hub) -> None:
    url = f"http://127.0.0.1:{free_port()}/auth?app=1&token=hunter2"
    hub = make_hub({"authenticate": "none", "options": {"auth_url": url}})
    with pytest.raises(InvalidStatus) as caught:
        await open_client(hub, user=None, additional_headers={"Cookie": "user=1"})
    assert caught.value.response.status_code == 401
    hub.log.wait_for(r"auth_url http://127\.0\.0\.1:\d+/auth\?app=1&token=\*\*\* failed: .*Connection refused")
    assert not hub.log.matching("hunter2")  # a secret in the URL is never logged


@pytest.mark.parametrize("user_id, logged", [
    ("null", None), ("false", None), ('""', None),
    ("1.5", "auth_url returned a PHP float: rejected"),
    ("[1]", "auth_url returned a PHP array: rejected"),
    ('{"id": 1}', "auth_url returned a PHP array: rejected"),
    ("true", "auth_url returned a PHP bool: rejected"),
])
async def test_user_id_that_names_no_user_is_a_clean_401(auth_hub: Hub, user_id: str, logged) -> None:
    with pytest.raises(InvalidStatus) as caught:
        await open_client(auth_hub, user=None, additional_headers={"Authorization": f"Json {user_id}"})
    assert caught.value.response.status_code == 401
    if logged:
        auth_hub.log.wait_for(re.escape(logged))
    assert not auth_hub.log.matching(r"Traceback|Internal Server Error")
