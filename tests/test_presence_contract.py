"""The Presence contract (pybroadcast/drivers/presence.py), run against every driver."""

from __future__ import annotations

import asyncio

import pytest

from drivers import DRIVERS


@pytest.fixture(params=sorted(DRIVERS))
async def presence(request):
    async with DRIVERS[request.param](request) as make_driver:
        instance = make_driver().presence

        async def changed(kind: str, channel: str, user: str) -> None:
            raise AssertionError(f"unexpected {kind} of {user} in {channel}")

        await instance.start(changed)
        yield instance
        await instance.close()
        await instance.close()  # safe twice


async def test_first_connection_joins_last_connection_leaves(presence) -> None:
    assert await presence.join("room", "7", "c1") is True
    assert await presence.join("room", "7", "c2") is False
    assert await presence.join("room", "7", "c2") is False  # same connection again
    assert await presence.leave("room", "7", "c1") is False
    assert await presence.members("room") == ["7"]
    assert await presence.leave("room", "7", "c2") is True
    assert await presence.members("room") == []


async def test_leaving_what_was_never_joined_is_no_transition(presence) -> None:
    assert await presence.leave("room", "7", "c1") is False
    await presence.join("room", "7", "c1")
    assert await presence.leave("room", "7", "other") is False
    assert await presence.leave("room", "8", "c1") is False


async def test_members_lists_each_user_once_per_channel(presence) -> None:
    for user, conn in [("1", "a"), ("1", "b"), ("2", "c"), ("3", "d")]:
        await presence.join("room", user, conn)
    await presence.join("other", "9", "e")
    assert sorted(await presence.members("room")) == ["1", "2", "3"]
    assert await presence.members("other") == ["9"]
    assert await presence.members("empty") == []


async def test_concurrent_transitions_are_reported_exactly_once(presence) -> None:
    joins = await asyncio.gather(*(presence.join("room", "7", f"c{i}") for i in range(50)))
    assert joins.count(True) == 1
    leaves = await asyncio.gather(*(presence.leave("room", "7", f"c{i}") for i in range(50)))
    assert leaves.count(True) == 1
    assert await presence.members("room") == []


async def test_interleaved_tabs_of_two_users(presence) -> None:
    steps = [("join", "1", "a", True), ("join", "2", "b", True), ("join", "1", "c", False),
             ("leave", "1", "a", False), ("leave", "2", "b", True), ("join", "2", "d", True),
             ("leave", "1", "c", True), ("leave", "2", "d", True)]
    for op, user, conn, transition in steps:
        assert await getattr(presence, op)("room", user, conn) is transition, (op, user, conn)


async def test_user_info_is_kept_while_present_and_the_latest_wins(presence) -> None:
    assert await presence.join("room", "7", "a", '{"name":"Ann"}') is True
    assert await presence.join("room", "8", "b") is True
    assert await presence.members_info("room") == {"7": '{"name":"Ann"}', "8": ""}
    await presence.join("room", "7", "c", '{"name":"Ann B."}')  # a second tab, newer info
    assert (await presence.members_info("room"))["7"] == '{"name":"Ann B."}'
    await presence.leave("room", "7", "a")
    await presence.leave("room", "7", "c")
    assert await presence.members_info("room") == {"8": ""}
    await presence.join("room", "7", "d")  # back, without info: the old one is gone
    assert await presence.members_info("room") == {"7": "", "8": ""}
    assert await presence.members_info("empty") == {}


async def test_channels_lists_those_with_present_users(presence) -> None:
    await presence.join("a", "1", "c1")
    await presence.join("b", "2", "c2")
    await presence.leave("b", "2", "c2")
    assert await presence.channels() == ["a"]
