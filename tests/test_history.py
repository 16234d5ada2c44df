"""History and recovery end to end: real hubs, real PHP publishers, real Redis, real cuts."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from harness.processes import php_command
from harness.redis_server import RedisServer
from support import Hub, client, next_event, recv_json, subscribe
from test_cluster import Cluster, settled


class Reader:
    """A native client of one channel that keeps its position, as pybroadcast.js does."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.epoch: str | None = None
        self.offset = 0
        self.received: list[tuple[int, str]] = []  # (offset, data), in arrival order
        self.ws: ClientConnection | None = None

    async def connect(self, hub: Hub, user: str = "1", recover: bool = True) -> dict[str, Any]:
        """Connects and subscribes (with `since` once it has a position); returns `subscribed`."""
        self.ws = await client(hub, user)
        frame: dict[str, Any] = {"action": "subscribe", "channel": self.channel}
        if recover and self.epoch is not None:
            frame["since"] = {"epoch": self.epoch, "offset": self.offset}
        await self.ws.send(json.dumps(frame))
        ack = await next_event(self.ws, "subscribed")
        if ack.get("recovered") is not True:  # a fresh position: what came before is not ours
            self.offset = ack["offset"]
        self.epoch = ack["epoch"]
        return ack

    async def receive(self, count: int, timeout: float = 20) -> list[tuple[int, str]]:
        """Reads until `count` messages have arrived in all."""
        assert self.ws is not None
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                event = await recv_json(self.ws)
                if event["event"] == "message" and event["channel"] == self.channel:
                    self.received.append((event["offset"], event["data"]))
                    self.offset = event["offset"]
                    self.epoch = event.get("epoch", self.epoch)  # a new epoch is announced
        return self.received

    def cut(self) -> None:
        """The TCP connection dies under the client: no close frame, the hub finds out later."""
        assert self.ws is not None
        self.ws.transport.abort()


def publishers(ini: dict[str, str], channel: str, processes: int = 4, each: int = 250) -> list[subprocess.Popen]:
    """`processes` PHP processes publishing `each` messages "p<k>-<i>" at once, paced ~1 ms apart."""
    code = ("[$k, $n, $channel] = [(int) $argv[1], (int) $argv[2], $argv[3]];"
            "for ($i = 0; $i < $n; $i++) { broadcast($channel, \"p$k-$i\"); usleep(1000); } echo 'done';")
    return [subprocess.Popen(php_command("-r", code, "--", str(k), str(each), channel, ini=ini),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(processes)]


def finished(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert out == "done", err


def assert_exactly_once_in_order(received: list[tuple[int, str]], processes: int, each: int, first: int = 1) -> None:
    offsets = [offset for offset, _ in received]
    assert offsets == list(range(first, first + processes * each)), "a gap, a duplicate or out of order"
    for k in range(processes):  # and each publisher's messages in its own order
        assert [data for _, data in received if data.startswith(f"p{k}-")] == [f"p{k}-{i}" for i in range(each)]


@pytest.fixture(params=["memory", "redis-other-node"])
def nodes(request, make_hub, redis_server) -> tuple[Hub, Hub, dict[str, str]]:
    """(where the client first connects, where it reconnects, the app processes' php.ini)."""
    history = {"history_size": 2000}
    if request.param == "memory":
        hub = make_hub({"options": history})
        return hub, hub, hub.ini
    cluster = Cluster(make_hub, redis_server, nodes=2, hub_config={"options": history})
    return cluster.hubs[0], cluster.hubs[1], {**cluster.ini, "pybroadcast.history_size": "2000"}


async def test_a_cut_connection_recovers_every_missed_message_once_in_order(nodes) -> None:
    first, second, ini = nodes
    reader, observer = Reader("feed"), Reader("feed")
    assert (await reader.connect(first))["offset"] == 0
    await observer.connect(second, "2")
    running = publishers(ini, "feed")
    await reader.receive(100)
    reader.cut()
    await observer.receive(len(reader.received) + 100)  # publishing went on while it was away
    ack = await reader.connect(second)
    assert ack["recovered"] is True and ack["epoch"] == observer.epoch, ack
    await reader.receive(1000)
    finished(running)
    assert_exactly_once_in_order(reader.received, 4, 250)
    await observer.receive(1000)
    assert reader.received == observer.received  # the same offsets for the same messages on both nodes
    # Then live messages, continuing the count.
    running = publishers(ini, "feed", processes=1, each=3)
    await reader.receive(1003)
    finished(running)
    assert reader.received[1000:] == [(1001, "p0-0"), (1002, "p0-1"), (1003, "p0-2")]


async def test_the_first_message_of_a_channel_announces_its_epoch(hub: Hub) -> None:
    ws = await client(hub)
    ack = await subscribe(ws, "fresh")  # no message yet: a position nothing will ever match
    assert ack["offset"] == 0 and ack["epoch"]
    hub.php("broadcast('fresh', 'a'); broadcast('fresh', 'b');")
    first, second = await recv_json(ws), await recv_json(ws)
    assert first["offset"] == 1 and first["epoch"] not in ("", ack["epoch"]), first
    assert second == {"event": "message", "channel": "fresh", "offset": 2, "data": "b"}  # announced once
    # A client that was away since its placeholder position gets the channel's messages from 1.
    late = await client(hub, "2")
    await late.send(json.dumps({"action": "subscribe", "channel": "fresh", "since": {"epoch": ack["epoch"], "offset": 0}}))
    assert await recv_json(late) == {"event": "subscribed", "channel": "fresh", "epoch": first["epoch"], "offset": 2,
                                     "recovered": True}
    assert [(e["offset"], e["data"]) for e in [await recv_json(late), await recv_json(late)]] == [(1, "a"), (2, "b")]
    # Not one from another hub's life (a restart), nor one said to be further on.
    for since in ({"epoch": "~0123456789abcdef:1", "offset": 0}, {"epoch": ack["epoch"], "offset": 1}):
        await late.send(json.dumps({"action": "unsubscribe", "channel": "fresh"}))
        await late.send(json.dumps({"action": "subscribe", "channel": "fresh", "since": since}))
        assert (await next_event(late, "subscribed"))["recovered"] is False, since


async def test_a_page_rendered_before_the_first_message_misses_nothing(make_hub, redis_server) -> None:
    """getChannelHistory() on a channel that never had a message, then subscribe with its position:
    what was published in between arrives, recovered (no reload loop on a fresh channel)."""
    cluster = Cluster(make_hub, redis_server, nodes=1)  # (a hub gives the data set its generation)
    for hub, php in ((make_hub(), None), (cluster.hubs[0], cluster.php)):
        run = php or hub.php
        position = json.loads(run("getChannelHistory('page', 10, $p); echo json_encode($p);").stdout)
        assert position["offset"] == 0
        run("broadcast('page', 'meanwhile');")
        ws = await client(hub)
        await ws.send(json.dumps({"action": "subscribe", "channel": "page", "since": position}))
        ack = await recv_json(ws)
        assert ack["recovered"] is True and ack["offset"] == 1, ack
        assert (await recv_json(ws))["data"] == "meanwhile"


async def test_reading_positions_writes_nothing(make_hub, redis_server) -> None:
    """Clients choose channel names: subscribing to many must not fill Redis (or the hub)."""
    cluster = Cluster(make_hub, redis_server, nodes=1)
    ws = await client(cluster.hubs[0])
    for n in range(50):
        assert (await subscribe(ws, f"nothing-{n}"))["offset"] == 0
    cluster.php("for ($n = 0; $n < 50; $n++) getChannelHistory(\"nothing-$n\");")
    assert redis_server.client().keys(f"{cluster.prefix}:history:*") == []


async def test_offsets_are_identical_on_every_node(make_hub, redis_server) -> None:
    cluster = Cluster(make_hub, redis_server)
    readers = [Reader("same") for _ in cluster.hubs]
    for n, (reader, hub) in enumerate(zip(readers, cluster.hubs)):
        await reader.connect(hub, str(n))
    finished(publishers(cluster.ini, "same", processes=3, each=20))
    for reader in readers:
        await reader.receive(60)
    assert readers[0].received == readers[1].received == readers[2].received
    assert [offset for offset, _ in readers[0].received] == list(range(1, 61))


async def test_recovery_is_refused_when_the_messages_are_not_all_kept(make_hub) -> None:
    hub = make_hub({"options": {"history_size": 5}})
    reader = Reader("short")
    await reader.connect(hub)
    hub.php("for ($i = 1; $i <= 10; $i++) broadcast('short', \"m$i\");")
    await reader.receive(10)
    epoch = reader.epoch

    async def resubscribe(since: dict[str, Any]) -> tuple[dict[str, Any], ClientConnection]:
        ws = await client(hub, "2")
        await ws.send(json.dumps({"action": "subscribe", "channel": "short", "since": since}))
        return await recv_json(ws), ws

    # 6 to 10 are kept: from 5 on is recoverable, and exactly those come, then nothing else.
    answer, ws = await resubscribe({"epoch": epoch, "offset": 5})
    assert answer == {"event": "subscribed", "channel": "short", "epoch": epoch, "offset": 10, "recovered": True}
    assert [(await recv_json(ws))["data"] for _ in range(5)] == ["m6", "m7", "m8", "m9", "m10"]
    # 5 is gone (trimmed by size); another epoch; an offset this epoch never reached: not recoverable.
    for since in ({"epoch": epoch, "offset": 4}, {"epoch": "elsewhere", "offset": 9}, {"epoch": epoch, "offset": 11}):
        answer, ws = await resubscribe(since)
        assert answer == {"event": "subscribed", "channel": "short", "epoch": epoch, "offset": 10,
                          "recovered": False}, since
    # Live messages after a refusal continue from the position given.
    hub.php("broadcast('short', 'm11');")
    assert await recv_json(ws) == {"event": "message", "channel": "short", "offset": 11, "data": "m11"}


async def test_recovery_is_refused_once_history_ttl_has_passed(make_hub) -> None:
    hub = make_hub({"options": {"history_ttl": 0.5}})
    reader = Reader("brief")
    await reader.connect(hub)
    hub.php("broadcast('brief', 'soon gone');")
    await reader.receive(1)
    reader.cut()
    before = hub.php("echo json_encode(getChannelHistory('brief'));")
    assert json.loads(before.stdout) == [{"offset": 1, "data": "soon gone", "event": None}]
    position = reader.epoch, 0
    async with asyncio.timeout(10):  # expiry is a matter of time: poll for it
        while json.loads(hub.php("echo json_encode(getChannelHistory('brief'));").stdout):
            await asyncio.sleep(0.1)
    reader.offset = position[1]  # as if message 1 had been missed
    ack = await reader.connect(hub)
    assert ack["recovered"] is False and ack["epoch"] == position[0] and ack["offset"] == 1


async def test_a_memory_hub_restart_changes_the_epoch(make_hub) -> None:
    hub = make_hub()
    reader = Reader("news")
    await reader.connect(hub)
    hub.php("broadcast('news', 'x');")
    await reader.receive(1)
    known = reader.epoch
    hub.stop()
    restarted = make_hub({"options": {"socket": hub.socket}})
    ack = await reader.connect(restarted)
    assert ack["recovered"] is False and ack["epoch"] != known and ack["offset"] == 0


async def test_redis_restarted_empty_changes_the_epoch_never_a_silent_gap(make_hub) -> None:
    redis = RedisServer()
    try:
        cluster = Cluster(make_hub, redis, nodes=1)
        hub = cluster.hubs[0]
        reader = Reader("news")
        await reader.connect(hub)
        cluster.php("broadcast('news', 'one'); broadcast('news', 'two');")
        await reader.receive(2)
        known = reader.epoch
        reader.cut()
        redis.stop()
        redis.start()  # empty: the history and the positions are gone
        await hub.log.await_for(r"reconnected to redis")
        assert cluster.php("broadcast('news', 'after');").returncode == 0
        ack = await reader.connect(hub)
        assert ack["recovered"] is False and ack["epoch"] != known and ack["offset"] == 1
        assert json.loads(cluster.php("echo json_encode(getChannelHistory('news'));").stdout) == [
            {"offset": 1, "data": "after", "event": None}]
    finally:
        redis.stop()


async def test_history_size_0_means_no_offsets_and_nothing_written(make_hub, redis_server) -> None:
    cluster = Cluster(make_hub, redis_server, nodes=1, hub_config={"options": {"history_size": 0}})
    ini = {**cluster.ini, "pybroadcast.history_size": "0"}
    ws = await client(cluster.hubs[0])
    assert await subscribe(ws, "plain") == {"event": "subscribed", "channel": "plain"}
    result = subprocess.run(php_command("-r", "broadcast('plain', 'x'); var_export(getChannelHistory('plain', 10, $p));"
                                        " var_export($p);", ini=ini), capture_output=True, text=True, timeout=30)
    assert result.stdout == "array (\n)NULL", result.stderr
    assert await recv_json(ws) == {"event": "message", "channel": "plain", "data": "x"}
    assert redis_server.client().keys(f"{cluster.prefix}:history:*") == []


async def test_get_channel_history_from_php(make_hub, redis_server) -> None:
    memory = make_hub()
    cluster = Cluster(make_hub, redis_server, nodes=1)
    code = ("broadcast('log', 'first'); broadcast('log', 'ünïcode', 'App\\\\Events\\\\Said'); broadcast('log', 'third');"
            "echo json_encode([getChannelHistory('log', 2, $position), $position, getChannelHistory('log'),"
            " getChannelHistory('log', 0)]);")
    for run in (memory.php, cluster.php):
        result = run(code)
        newest, position, everything, none = json.loads(result.stdout)
        assert newest == [{"offset": 2, "data": "ünïcode", "event": "App\\Events\\Said"},
                          {"offset": 3, "data": "third", "event": None}], result.stderr
        assert set(position) == {"epoch", "offset"} and position["offset"] == 3 and position["epoch"]
        assert [m["offset"] for m in everything] == [1, 2, 3] and none == []
        for bad in ("getChannelHistory('log', -1)", "getChannelHistory('log', 10001)", "getChannelHistory('no spaces')"):
            answer = run(f"try {{ {bad}; }} catch (ValueError $e) {{ echo 'ValueError'; }}")
            assert answer.stdout == "ValueError", (bad, answer.stdout, answer.stderr)
    # The position a page rendered with: subscribing with it misses nothing published after.
    ws = await client(memory)
    await ws.send(json.dumps({"action": "subscribe", "channel": "log", "since": position_of(memory)}))
    memory.php("broadcast('log', 'fourth');")
    ack = await recv_json(ws)
    assert ack["recovered"] is True
    assert (await recv_json(ws))["data"] == "fourth"


def position_of(hub: Hub) -> dict[str, Any]:
    return json.loads(hub.php("getChannelHistory('log', 0, $p); echo json_encode($p);").stdout)


@pytest.mark.parametrize("since", [5, "x", {"epoch": 5, "offset": 1}, {"epoch": "e", "offset": -1},
                                   {"epoch": "e", "offset": True}, {"epoch": "e" * 65, "offset": 0}, {"epoch": "e"}])
async def test_a_malformed_since_gets_an_error_event(hub: Hub, since: Any) -> None:
    ws = await client(hub)
    await ws.send(json.dumps({"action": "subscribe", "channel": "news", "since": since}))
    event = await recv_json(ws)
    assert event["event"] == "error" and event["code"] == "bad_frame" and event["channel"] == "news", event
    assert (await subscribe(ws, "news"))["event"] == "subscribed"  # the connection stays

