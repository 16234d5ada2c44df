"""broadcastToUser(), getChannelUsers(), disconnectUser() from app processes and from hooks."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from support import Hub, ack, client, next_event, recv_json, subscribe


async def test_broadcast_to_user_reaches_every_tab_of_that_user_only(hub: Hub) -> None:
    tab1, tab2, other = await client(hub, "7"), await client(hub, "7"), await client(hub, "8")
    result = hub.php("broadcastToUser(7, 'for seven <b>\"é\"'); broadcastToUser('7', 'again'); echo 'ok';")
    assert result.stdout == "ok", result.stderr
    for tab in (tab1, tab2):
        assert await recv_json(tab) == {"event": "direct", "data": 'for seven <b>"é"'}
        assert await recv_json(tab) == {"event": "direct", "data": "again"}
    hub.php("broadcastToUser(8, 'eight');")
    assert await recv_json(other) == {"event": "direct", "data": "eight"}  # nothing for 7 came first
    for ws in (tab1, tab2, other):
        await ws.close()


async def test_get_channel_users_lists_each_user_once(hub: Hub) -> None:
    tabs = [await client(hub, u) for u in ("1", "1", "2", "3")]
    for ws in tabs:
        await subscribe(ws, "room")
    result = hub.php("echo json_encode(getChannelUsers('room')), json_encode(getChannelUsers('empty'));")
    first, _, second = result.stdout.partition("][")
    assert sorted(json.loads(first + "]")) == ["1", "2", "3"], result.stderr
    assert json.loads("[" + second) == []
    await tabs[2].close()
    hub.log.wait_for(r"HOOK leave 2 room")
    assert sorted(json.loads(hub.php("echo json_encode(getChannelUsers('room'));").stdout)) == ["1", "3"]
    for ws in tabs:
        await ws.close()


@pytest.mark.parametrize("target", ["7", "'7'"])
async def test_disconnect_user_closes_every_tab_with_4001(hub: Hub, target: str) -> None:
    tab1, tab2, other = await client(hub, "7"), await client(hub, "7"), await client(hub, "8")
    await subscribe(tab1, "room")
    hub.php(f"disconnectUser({target});")
    for tab in (tab1, tab2):
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(tab.recv(), 10)
        assert tab.close_code == 4001
    hub.log.wait_for(r"HOOK leave 7 room")
    assert ack(await subscribe(other, "room")) == {"event": "subscribed", "channel": "room"}
    await other.close()


async def test_hooks_can_call_the_api_inside_the_hub_process(make_hub) -> None:
    hub = make_hub({"hooks": "broadcast"})
    watcher = await client(hub, "99")
    await subscribe(watcher, "hooks")
    ws = await client(hub, "5")
    await subscribe(ws, "lobby")
    event = await next_event(watcher, "message")
    name, user, channel, users = event["data"].split(" ", 3)
    assert (name, user, channel, json.loads(users)) == ("join", "5", "lobby", ["5"])
    await ws.close()
    event = await next_event(watcher, "message")
    assert event["data"] == "leave 5 lobby []"
    await watcher.close()


async def test_user_messages_from_one_process_arrive_in_order(hub: Hub) -> None:
    ws = await client(hub, "3")
    hub.php("for ($i = 0; $i < 200; $i++) broadcastToUser(3, (string) $i);")
    assert [(await recv_json(ws))["data"] for _ in range(200)] == [str(i) for i in range(200)]
    await ws.close()
