"""Before the upgrade: Origin, authentication, paths (README: Wire protocol)."""

from __future__ import annotations

import re
import urllib.request

import pytest
from websockets.exceptions import InvalidStatus

from support import Hub, client, open_client, recv_json


async def status_of(hub: Hub, **kwargs) -> int:
    with pytest.raises(InvalidStatus) as caught:
        await open_client(hub, **kwargs)
    return caught.value.response.status_code


async def test_no_credentials_is_401(hub: Hub) -> None:
    assert await status_of(hub, user=None) == 401
    hub.log.wait_for(r"rejected unauthenticated connection from 127\.0\.0\.1")


async def test_bad_origin_is_403_before_authentication(hub: Hub) -> None:
    assert await status_of(hub, origin="http://evil.test") == 403
    assert await status_of(hub, origin=None) == 403
    assert not hub.log.matching(r"HOOK authenticate"), "the app was asked about a forbidden origin"


async def test_other_paths_are_404_and_health_is_200(hub: Hub) -> None:
    assert await status_of(hub, path="/other") == 404
    with urllib.request.urlopen(f"http://127.0.0.1:{hub.port}/health", timeout=5) as response:
        assert response.status == 200 and response.read() == b"ok\n"


async def test_connected_event_names_user_and_connection(hub: Hub) -> None:
    ws = await open_client(hub, user="42")
    event = await recv_json(ws)
    assert event["event"] == "connected" and event["user"] == "42"
    second = await client(hub, user="42")
    assert event["connection"] != (await _connection_id(second, hub))
    await ws.close()


async def _connection_id(ws, hub) -> str:
    line = hub.log.wait_for(r"connected user=42 connection=(\S+)", count=2)[1]
    return line.group(1)


async def test_authenticate_receives_path_query_headers_cookies_address(hub: Hub) -> None:
    ws = await open_client(hub, user=None, path="/ws?room=5",
                           additional_headers={"Cookie": "user=7; theme=dark%20blue", "X-Trace": "abc"})
    assert (await recv_json(ws))["user"] == "7"
    import json
    request = json.loads(hub.log.wait_for(r"HOOK authenticate (.*)")[0].group(1))
    assert request["path"] == "/ws"
    assert request["query"] == {"room": "5"}
    assert request["cookies"] == {"user": "7", "theme": "dark blue"}
    assert request["headers"]["x-trace"] == "abc" and request["headers"]["origin"] == "http://app.test"
    assert request["remote_addr"] == "127.0.0.1"
    await ws.close()


@pytest.mark.parametrize("mode", ["throw", "slow"])
async def test_failing_authenticator_rejects_and_hub_keeps_serving(make_hub, mode: str) -> None:
    hub = make_hub({"authenticate": mode, "options": {"callback_timeout": 1}})
    assert await status_of(hub, user="1") == 401
    expected = r"PHP callback authenticate threw RuntimeException: auth exploded" if mode == "throw" \
        else r"PHP callback authenticate timed out"
    hub.log.wait_for(expected)
    # The hub itself still answers (health) while PHP is busy or after it threw.
    with urllib.request.urlopen(f"http://127.0.0.1:{hub.port}/health", timeout=5) as response:
        assert response.status == 200


async def test_without_authenticator_everyone_is_rejected(make_hub) -> None:
    hub = make_hub({"authenticate": "none"})
    hub.log.wait_for(r"neither onAuthenticate nor auth_url is set")
    assert await status_of(hub, user="1") == 401


@pytest.mark.parametrize("expression, logged", [
    ("null", None), ("false", None), ('""', None),
    ("1.5", "onAuthenticate returned a PHP float: rejected"),
    ("[7]", "onAuthenticate returned a PHP array: rejected"),
    ("true", "onAuthenticate returned a PHP bool: rejected"),
    ("new stdClass", "onAuthenticate returned a PHP stdClass: rejected"),
    ('"bad\\nid"', "onAuthenticate returned an unusable user id"),
])
async def test_authenticate_answers_that_name_no_user_are_a_clean_401(make_hub, expression: str, logged) -> None:
    hub = make_hub({"authenticate": f"return:{expression}"})
    assert await status_of(hub, user="7") == 401
    if logged:
        hub.log.wait_for(re.escape(logged))
    assert not hub.log.matching(r"Traceback|Internal Server Error|Exception in")


@pytest.mark.parametrize("expression, user", [("7", "7"), ('"abc"', "abc"), ('"7"', "7")])
async def test_authenticate_string_or_int_names_the_user(make_hub, expression: str, user: str) -> None:
    hub = make_hub({"authenticate": f"return:{expression}"})
    ws = await client(hub, user=user)
    await ws.close()
