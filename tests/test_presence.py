"""Presence: onJoin/onLeave once per transition, join/leave events (README: Channels, authorization and presence)."""

from __future__ import annotations

import asyncio
import itertools
import json
import random

import pytest
from websockets.exceptions import ConnectionClosed

from support import Hub, ack, client, next_event, raw_client, recv_json, subscribe

_sentinels = itertools.count()


async def settled(hub: Hub) -> None:
    """Hooks run in order on the PHP thread: once a fresh hook has run, every earlier one has."""
    n = next(_sentinels)
    ws = await client(hub, "sentinel")
    await subscribe(ws, f"sentinel-{n}")
    await hub.log.await_for(rf"HOOK join sentinel sentinel-{n}$")
    await ws.close()


def hooks(hub: Hub, user: str, channel: str) -> list[str]:
    """The join/leave hooks that ran for one user and channel, in order."""
    lines = hub.log.matching(rf"^HOOK (join|leave) {user} {channel}$")
    return [line.split()[1] for line in lines]


async def unsubscribe(ws, channel: str) -> None:
    await ws.send(json.dumps({"action": "unsubscribe", "channel": channel}))
    assert await next_event(ws, "unsubscribed") == {"event": "unsubscribed", "channel": channel}


@pytest.mark.parametrize("order", ["first-tab-leaves-first", "last-tab-leaves-first"])
async def test_two_tabs_one_join_one_leave(hub: Hub, order: str) -> None:
    tabs = [await client(hub, "7"), await client(hub, "7")]
    for tab in tabs:
        await subscribe(tab, "room")
    await settled(hub)
    assert hooks(hub, "7", "room") == ["join"]
    for tab in (tabs if order == "first-tab-leaves-first" else tabs[::-1]):
        await unsubscribe(tab, "room")
    await settled(hub)
    assert hooks(hub, "7", "room") == ["join", "leave"]


async def test_clean_close_leaves(hub: Hub) -> None:
    tab = await client(hub, "7")
    await subscribe(tab, "a")
    await subscribe(tab, "b")
    await tab.close()
    await settled(hub)
    assert hooks(hub, "7", "a") == ["join", "leave"] and hooks(hub, "7", "b") == ["join", "leave"]


async def test_abrupt_tcp_loss_leaves_once(hub: Hub) -> None:
    keep = await client(hub, "7")
    await subscribe(keep, "room")
    dropped = raw_client(hub, "8", "room")
    await hub.log.await_for(r"HOOK join 8 room")
    dropped.close()  # no close frame
    await hub.log.await_for(r"HOOK leave 8 room")
    await settled(hub)
    assert hooks(hub, "8", "room") == ["join", "leave"] and hooks(hub, "7", "room") == ["join"]
    await keep.close()


async def test_disconnect_user_leaves_once_for_all_tabs(hub: Hub) -> None:
    tabs = [await client(hub, "7") for _ in range(3)]
    for tab in tabs:
        await subscribe(tab, "room")
    hub.php("disconnectUser(7);")
    for tab in tabs:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(tab.recv(), 10)
    await settled(hub)
    assert hooks(hub, "7", "room") == ["join", "leave"]


async def test_hub_shutdown_fires_leave_for_everyone_before_run_returns(hub: Hub) -> None:
    tabs = [await client(hub, user) for user in ("1", "1", "2")]
    for tab in tabs:
        await subscribe(tab, "room")
    await settled(hub)
    assert await asyncio.to_thread(hub.stop) == 0
    assert hooks(hub, "1", "room") == ["join", "leave"] and hooks(hub, "2", "room") == ["join", "leave"]
    lines = hub.log.lines
    assert lines.index("RUN RETURNED") > max(i for i, line in enumerate(lines) if line.startswith("HOOK leave"))


async def test_presence_channel_members_see_others_join_and_leave_not_extra_tabs(hub: Hub) -> None:
    channel = "presence-room-ok"
    a1, b = await client(hub, "1"), await client(hub, "2")
    await subscribe(a1, channel)
    await subscribe(b, channel)
    assert await next_event(a1, "join") == {"event": "join", "channel": channel, "user": "2"}
    a2 = await client(hub, "1")  # a second tab of user 1: nobody is told
    await subscribe(a2, channel)
    c = await client(hub, "3")
    await subscribe(c, channel)
    for ws in (a1, a2, b):
        assert await next_event(ws, "join") == {"event": "join", "channel": channel, "user": "3"}
    await a2.close()  # user 1 still has a tab: no leave
    await c.close()
    for ws in (a1, b):
        assert await next_event(ws, "leave") == {"event": "leave", "channel": channel, "user": "3"}
    hub.php(f"broadcast('{channel}', 'end');")
    for ws in (a1, b):  # no other join/leave came before this message
        assert (await recv_json(ws))["data"] == "end"
    await a1.close(); await b.close()


async def test_user_disconnected_while_authorization_runs_never_joins(make_hub) -> None:
    hub = make_hub({"authorize": "slow", "options": {"callback_timeout": 8}})
    ws = await client(hub, "4")
    await ws.send(json.dumps({"action": "subscribe", "channel": "private-ok"}))
    await hub.log.await_for(r"HOOK authorize 4 private-ok")
    hub.php("disconnectUser(4);")  # while PHP sleeps in the authorizer
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 4001
    await settled(hub)  # runs after the slow authorizer returned
    assert hooks(hub, "4", "private-ok") == []
    assert json.loads(hub.php("echo json_encode(getChannelUsers('private-ok'));").stdout) == []


async def test_tab_dropping_while_another_subscribes(hub: Hub) -> None:
    for round_ in range(5):
        channel = f"race{round_}"
        first = raw_client(hub, "7", channel)
        await hub.log.await_for(rf"HOOK join 7 {channel}$")
        second = await client(hub, "7")
        await asyncio.gather(asyncio.to_thread(first.close), subscribe(second, channel))
        await settled(hub)
        seen = hooks(hub, "7", channel)
        # Either the drop came first (join, leave, join) or the second tab did (join): both are
        # exact transitions, and user 7 is present at the end either way.
        assert seen in (["join"], ["join", "leave", "join"]), seen
        assert json.loads(hub.php(f"echo json_encode(getChannelUsers('{channel}'));").stdout) == ["7"]
        await second.close()


async def test_random_interleavings_keep_hooks_alternating_and_true(hub: Hub) -> None:
    rng = random.Random(20261125)
    tabs = [await client(hub, "7") for _ in range(6)]

    async def churn(tab) -> None:
        for _ in range(8):
            action = rng.choice(["subscribe", "unsubscribe"])
            await tab.send(json.dumps({"action": action, "channel": "churn"}))
            await next_event(tab, action + "d")

    await asyncio.gather(*(churn(tab) for tab in tabs))
    await tabs[0].close()
    await settled(hub)
    seen = hooks(hub, "7", "churn")
    assert all(a != b for a, b in zip(seen, seen[1:])), seen  # join, leave, join, ...
    assert not seen or seen[0] == "join"
    present = json.loads(hub.php("echo json_encode(getChannelUsers('churn'));").stdout) == ["7"]
    assert present == (bool(seen) and seen[-1] == "join")
    for tab in tabs[1:]:
        await tab.close()


@pytest.mark.parametrize("mode, logged", [
    ("throw", r"PHP callback join threw DomainException: join hook exploded"),
    ("slow", r"PHP callback join timed out after 1\.0 s"),
])
async def test_misbehaving_hooks_are_logged_and_harm_no_one(make_hub, mode: str, logged: str) -> None:
    hub = make_hub({"hooks": mode, "options": {"callback_timeout": 1}})
    ws = await client(hub, "7")
    assert ack(await subscribe(ws, "room")) == {"event": "subscribed", "channel": "room"}
    await hub.log.await_for(logged)
    hub.php("broadcast('room', 'served');")
    assert (await next_event(ws, "message"))["data"] == "served"
    await ws.close()
