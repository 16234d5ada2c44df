"""After the upgrade: subscribe/unsubscribe, errors, size limit (README: Wire protocol)."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from support import Hub, ack, client, recv_json, subscribe


async def test_subscribe_and_unsubscribe_are_acknowledged(hub: Hub) -> None:
    ws = await client(hub)
    assert ack(await subscribe(ws, "news")) == {"event": "subscribed", "channel": "news"}
    assert ack(await subscribe(ws, "news")) == {"event": "subscribed", "channel": "news"}  # idempotent
    await ws.send(json.dumps({"action": "unsubscribe", "channel": "news"}))
    assert await recv_json(ws) == {"event": "unsubscribed", "channel": "news"}
    await ws.close()


@pytest.mark.parametrize("frame, code", [
    ("not json", "bad_json"),
    ("[1, 2]", "bad_frame"),
    ('{"action": "dance", "channel": "news"}', "unknown_action"),
    ('{"action": "subscribe"}', "bad_channel"),
    ('{"action": "subscribe", "channel": "has space"}', "bad_channel"),
    ('{"action": "subscribe", "channel": "' + "x" * 201 + '"}', "bad_channel"),
    ('{"action": "subscribe", "channel": 5}', "bad_channel"),
    (b"\x00binary", "bad_frame"),
])
async def test_bad_frame_gets_error_event_and_connection_stays(hub: Hub, frame, code: str) -> None:
    ws = await client(hub)
    await ws.send(frame)
    event = await recv_json(ws)
    assert event["event"] == "error" and event["code"] == code and event["message"], event
    assert ack(await subscribe(ws, "still-open")) == {"event": "subscribed", "channel": "still-open"}
    await ws.close()


async def test_bad_channel_error_names_the_channel(hub: Hub) -> None:
    ws = await client(hub)
    await ws.send(json.dumps({"action": "subscribe", "channel": "a b"}))
    assert (await recv_json(ws))["channel"] == "a b"
    await ws.close()


async def test_every_allowed_channel_character_is_accepted(hub: Hub) -> None:
    ws = await client(hub)
    name = "AZaz09_-=@,.;:"
    assert ack(await subscribe(ws, name)) == {"event": "subscribed", "channel": name}
    assert ack(await subscribe(ws, "x" * 200)) == {"event": "subscribed", "channel": "x" * 200}
    await ws.close()


async def test_oversized_frame_closes_with_1009(make_hub) -> None:
    hub = make_hub({"options": {"max_message_size": 1024}})
    ws = await client(hub)
    await ws.send(json.dumps({"action": "subscribe", "channel": "x" * 2000}))
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 1009
    # A frame at the limit is fine for another client.
    other = await client(hub, user="2")
    await other.send(json.dumps({"action": "subscribe", "channel": "ok", "pad": "p" * 900}))
    assert ack(await recv_json(other)) == {"event": "subscribed", "channel": "ok"}
    await other.close()
