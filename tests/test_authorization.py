"""private- and presence- channels need onAuthorize (README: Channels, authorization and presence)."""

from __future__ import annotations

import urllib.request

import pytest

from support import Hub, ack, client, recv_json, subscribe


@pytest.mark.parametrize("channel", ["private-ok", "presence-ok", "private-user-4", "presence-room-4"])
async def test_authorized_channels_subscribe(hub: Hub, channel: str) -> None:
    ws = await client(hub, "4")
    assert ack(await subscribe(ws, channel)) == {"event": "subscribed", "channel": channel}
    hub.log.wait_for(rf"HOOK authorize 4 {channel}")
    await ws.close()


@pytest.mark.parametrize("channel", ["private-user-5", "presence-room-5"])
async def test_refusal_is_an_error_naming_the_channel(hub: Hub, channel: str) -> None:
    ws = await client(hub, "4")
    event = await subscribe(ws, channel)
    assert event["event"] == "error" and event["code"] == "forbidden" and event["channel"] == channel
    hub.php(f"broadcast('{channel}', 'secret');")
    assert ack(await subscribe(ws, "public")) == {"event": "subscribed", "channel": "public"}  # no secret came first
    assert not hub.log.matching(rf"HOOK join 4 {channel}")
    await ws.close()


async def test_without_an_authorizer_private_channels_are_refused(make_hub) -> None:
    hub = make_hub({"authorize": "none"})
    ws = await client(hub, "4")
    for channel in ("private-ok", "presence-ok"):
        assert (await subscribe(ws, channel))["code"] == "forbidden"
    assert ack(await subscribe(ws, "public-ok")) == {"event": "subscribed", "channel": "public-ok"}
    await ws.close()


@pytest.mark.parametrize("mode, logged", [
    ("throw", r"PHP callback authorize threw LogicException: authorizer exploded"),
    ("slow", r"PHP callback authorize timed out after 1\.0 s"),
])
async def test_failing_authorizer_refuses_and_hub_keeps_serving(make_hub, mode: str, logged: str) -> None:
    hub = make_hub({"authorize": mode, "options": {"callback_timeout": 1}})
    other = await client(hub, "5")
    assert ack(await subscribe(other, "news")) == {"event": "subscribed", "channel": "news"}
    ws = await client(hub, "4")
    assert (await subscribe(ws, "private-ok"))["code"] == "forbidden"
    hub.log.wait_for(logged)
    # Connected clients are still served while (or after) PHP misbehaves; the
    # PHP thread may still be inside the slow callback here.
    hub.php("broadcast('news', 'still here');")
    assert (await recv_json(other))["data"] == "still here"
    with urllib.request.urlopen(f"http://127.0.0.1:{hub.port}/health", timeout=5) as response:
        assert response.status == 200
    await ws.close(); await other.close()


# PHP's truth, not Python's: b"0" is truthy in Python and was read as "allowed".
@pytest.mark.parametrize("expression", ['"0"', "0", '""', "[]", "null", "false"])
async def test_what_php_considers_false_refuses(make_hub, expression: str) -> None:
    hub = make_hub({"authorize": f"return:{expression}"})
    ws = await client(hub, "4")
    assert (await subscribe(ws, "private-ok"))["code"] == "forbidden"
    await ws.close()


@pytest.mark.parametrize("expression, type_name", [
    ("1.5", "float"), ("new stdClass", "stdClass"), ("fopen('php://memory', 'r')", "resource"),
])
async def test_a_value_of_another_type_refuses_with_a_log_line(make_hub, expression: str, type_name: str) -> None:
    hub = make_hub({"authorize": f"return:{expression}"})
    ws = await client(hub, "4")
    assert (await subscribe(ws, "private-ok"))["code"] == "forbidden"
    hub.log.wait_for(rf"onAuthorize returned a PHP {type_name} for private-ok: refused")
    await ws.close()


@pytest.mark.parametrize("expression", ["true", "1", '"yes"', "['name' => 'Ann']"])
async def test_what_php_considers_true_allows(make_hub, expression: str) -> None:
    hub = make_hub({"authorize": f"return:{expression}"})
    ws = await client(hub, "4")
    assert (await subscribe(ws, "private-ok"))["event"] == "subscribed"
    await ws.close()
