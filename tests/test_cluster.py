"""Many nodes on one Redis: three real hubs, real redis-server, real PHP app processes."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time

import pytest
from websockets.exceptions import ConnectionClosed

from harness.processes import cpu_seconds
from support import Hub, ack, announced, client, free_port, next_event, php_string, recv_json, run_php, subscribe

TTL = 3
_prefixes = itertools.count()


class Cluster:
    def __init__(self, make_hub, redis_server, nodes: int = 3, hub_config: dict | None = None) -> None:
        self.redis = redis_server
        self.prefix = f"t{os.getpid()}-{next(_prefixes)}"
        self.options = {"driver": "redis", "redis_url": redis_server.url, "redis_prefix": self.prefix,
                        "presence_ttl": TTL}
        config = dict(hub_config or {})
        config["options"] = {**self.options, **config.get("options", {})}
        self.hubs: list[Hub] = [make_hub(config) for _ in range(nodes)]
        self.ini = {f"pybroadcast.{k}": str(v) for k, v in self.options.items() if k != "presence_ttl"}

    def php(self, code: str, **kwargs):
        return run_php(code, ini=self.ini, **kwargs)

    def hook_lines(self, pattern: str) -> list[str]:
        return [line for hub in self.hubs for line in hub.log.matching(pattern)]

    async def settled(self) -> None:
        await settled(self.hubs)


async def settled(hubs: list[Hub]) -> None:
    """Every hub has run every hook queued so far (hooks run in order on each PHP thread)."""
    for n, hub in enumerate(hubs):
        ws = await client(hub, "sentinel")
        channel = f"sentinel-{n}-{time.monotonic_ns()}"
        await subscribe(ws, channel)
        await hub.log.await_for(rf"HOOK join sentinel {channel}$")
        await ws.close()


@pytest.fixture
def cluster(make_hub, redis_server) -> Cluster:
    return Cluster(make_hub, redis_server)


async def test_broadcast_reaches_every_node_byte_identical_and_in_order(cluster: Cluster) -> None:
    clients = [await client(hub, str(i)) for i, hub in enumerate(cluster.hubs)]
    for ws in clients:
        await subscribe(ws, "news")
    text = 'héllo "wörld" <b>x</b> 🎉'
    result = cluster.php(f"broadcast('news', {php_string(text)}); for ($i = 0; $i < 200; $i++) broadcast('news', (string) $i);")
    assert result.returncode == 0, result.stderr
    for ws in clients:
        assert (await next_event(ws, "message"))["data"] == text
        assert [(await next_event(ws, "message"))["data"] for _ in range(200)] == [str(i) for i in range(200)]
    for ws in clients:
        await ws.close()


async def test_nodes_subscribe_only_to_channels_their_clients_use(cluster: Cluster) -> None:
    redis = cluster.redis.client()
    topic = lambda channel: f"{cluster.prefix}:ch:{channel}"  # noqa: E731
    a = await client(cluster.hubs[0], "1")
    b = await client(cluster.hubs[1], "2")
    await subscribe(a, "only-a")
    await subscribe(b, "only-b")
    numsub = dict(redis.pubsub_numsub(topic("only-a"), topic("only-b"), topic("nobody")))
    assert numsub == {topic("only-a").encode(): 1, topic("only-b").encode(): 1, topic("nobody").encode(): 0}
    await a.send(json.dumps({"action": "unsubscribe", "channel": "only-a"}))
    await next_event(a, "unsubscribed")
    assert dict(redis.pubsub_numsub(topic("only-a")))[topic("only-a").encode()] == 0
    channels = {c.decode() for c in redis.pubsub_channels(f"{cluster.prefix}:*")}
    assert channels == {topic("only-b"), f"{cluster.prefix}:users"}
    await a.close(); await b.close()


async def test_presence_is_cluster_wide_with_one_join_and_one_leave(cluster: Cluster) -> None:
    tabs = [await client(hub, "7") for hub in cluster.hubs[:2]] + [await client(cluster.hubs[2], "8")]
    for ws in tabs:
        await subscribe(ws, "room")
    await cluster.settled()
    assert len(cluster.hook_lines(r"^HOOK join 7 room$")) == 1
    users = json.loads(cluster.php("echo json_encode(getChannelUsers('room'));").stdout)
    assert sorted(users) == ["7", "8"]
    await tabs[0].close()
    await cluster.settled()
    assert cluster.hook_lines(r"^HOOK leave 7 room$") == []
    await tabs[1].close()
    await cluster.hubs[1].log.await_for(r"HOOK leave 7 room")
    await cluster.settled()
    assert len(cluster.hook_lines(r"^HOOK leave 7 room$")) == 1
    assert json.loads(cluster.php("echo json_encode(getChannelUsers('room'));").stdout) == ["8"]
    await tabs[2].close()


async def test_presence_events_cross_nodes(cluster: Cluster) -> None:
    channel = "presence-room-ok"
    a = await client(cluster.hubs[0], "1")
    await subscribe(a, channel)
    b = await client(cluster.hubs[1], "2")
    await subscribe(b, channel)
    assert await next_event(a, "join") == {"event": "join", "channel": channel, "user": "2"}
    await b.close()
    assert await next_event(a, "leave") == {"event": "leave", "channel": channel, "user": "2"}
    await a.close()


async def test_user_messages_and_disconnect_cross_nodes(cluster: Cluster) -> None:
    tab1, tab3, other = await client(cluster.hubs[0], "7"), await client(cluster.hubs[2], "7"), await client(cluster.hubs[1], "8")
    cluster.php("broadcastToUser(7, 'for seven'); broadcastToUser('8', 'for eight');")
    for ws in (tab1, tab3):
        assert await recv_json(ws) == {"event": "direct", "data": "for seven"}
    assert await recv_json(other) == {"event": "direct", "data": "for eight"}
    cluster.php("disconnectUser('7');")
    for ws in (tab1, tab3):
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 4001
    assert ack(await subscribe(other, "still")) == {"event": "subscribed", "channel": "still"}
    await other.close()


async def test_hooks_in_a_redis_hub_can_call_the_api(make_hub, redis_server) -> None:
    cluster = Cluster(make_hub, redis_server, nodes=2, hub_config={"hooks": "broadcast"})
    watcher = await client(cluster.hubs[1], "99")
    await subscribe(watcher, "hooks")
    ws = await client(cluster.hubs[0], "5")
    await subscribe(ws, "lobby")
    event = await next_event(watcher, "message")
    assert event["data"] == 'join 5 lobby ["5"]'
    await ws.close(); await watcher.close()


async def test_killed_node_users_leave_once_via_a_survivor(cluster: Cluster) -> None:
    channel = "presence-room-ok"
    member = await client(cluster.hubs[0], "1")
    await subscribe(member, channel)
    doomed = await client(cluster.hubs[1], "9")
    await subscribe(doomed, channel)
    assert (await next_event(member, "join"))["user"] == "9"
    killed_at = time.monotonic()
    cluster.hubs[1].process.kill()  # kill -9: no leave, no cleanup
    assert await next_event(member, "leave", timeout=TTL * 3) == {"event": "leave", "channel": channel, "user": "9"}
    took = time.monotonic() - killed_at
    survivors = [cluster.hubs[0], cluster.hubs[2]]
    await settled(survivors)
    leaves = [line for hub in survivors for line in hub.log.matching(rf"^HOOK leave 9 {channel}$")]
    assert len(leaves) == 1, leaves
    assert json.loads(cluster.php(f"echo json_encode(getChannelUsers('{channel}'));").stdout) == ["1"]
    print(f"leave reported {took:.1f} s after kill -9 (presence_ttl {TTL} s)")
    await member.close()


async def test_redis_restart_is_survived(cluster: Cluster) -> None:
    clients = [await client(hub, str(i)) for i, hub in enumerate(cluster.hubs)]
    for ws in clients:
        await subscribe(ws, "news")
    cluster.redis.stop()

    # App-side calls fail fast and clearly.
    for code in ("broadcast('news', 'x');", "broadcastToUser(1, 'x');", "getChannelUsers('news');", "disconnectUser(1);"):
        result = cluster.php("$t = microtime(true); try { " + code + " } catch (PyBroadcast\\Exception $e) "
                             "{ printf('%.2f|%s', microtime(true) - $t, $e->getMessage()); }")
        seconds, _, message = result.stdout.partition("|")
        assert message.startswith(f"redis at {cluster.redis.url} unreachable"), result.stdout + result.stderr
        assert float(seconds) < 3

    # Hubs notice, log it once, keep their clients, and do not spin.
    for hub in cluster.hubs:
        await hub.log.await_for(r"redis at .* unreachable")
    cpu_before = [cpu_seconds(hub.process.pid) for hub in cluster.hubs]
    wall = time.monotonic()
    late = await client(cluster.hubs[0], "late")  # joins during the outage: replayed later
    await subscribe(late, "news")
    await subscribe(late, "fresh")  # a channel no node listened to before the outage
    await asyncio.sleep(2)  # an outage lasting a while: measured, not synchronised on
    cpu_ratio = (max(cpu_seconds(hub.process.pid) - before for hub, before in zip(cluster.hubs, cpu_before))
                 / (time.monotonic() - wall))
    assert cpu_ratio < 0.5, f"a hub used {cpu_ratio:.0%} of a core while Redis was down"
    for hub in cluster.hubs:
        assert len(hub.log.matching(r"ERROR redis at .* unreachable")) == 1

    cluster.redis.start()
    for hub in cluster.hubs:
        await hub.log.await_for(r"reconnected to redis .* resubscribed \d+ channels", timeout=20)
        await hub.log.await_for(r"presence resynchronised with redis", timeout=20)
    cluster.php("broadcast('news', 'after'); broadcast('fresh', 'new channel');")
    for ws in clients + [late]:
        assert (await next_event(ws, "message"))["data"] == "after"
    assert announced(await next_event(late, "message")) == {"event": "message", "channel": "fresh", "offset": 1,
                                                            "data": "new channel"}
    users = json.loads(cluster.php("echo json_encode(getChannelUsers('news'));").stdout)
    assert sorted(users) == ["0", "1", "2", "late"]
    await cluster.settled()
    assert len(cluster.hook_lines(r"^HOOK join late news$")) == 1  # replayed once
    assert len(cluster.hook_lines(r"^HOOK join 0 news$")) == 1  # not repeated by the resync
    for ws in clients + [late]:
        await ws.close()


async def test_two_hubs_share_one_port_with_reuse_port(make_hub, redis_server) -> None:
    """reuse_port: one hub per core on one address; the kernel spreads the connections."""
    port = free_port()
    options = {"driver": "redis", "redis_url": redis_server.url, "redis_prefix": f"reuse{os.getpid()}",
               "listen": f"127.0.0.1:{port}", "reuse_port": "on"}
    hubs = [make_hub({"options": options}) for _ in range(2)]  # the second would fail: address in use
    for hub in hubs:
        hub.port = port
    clients = [await client(hubs[0], str(i)) for i in range(40)]
    counts = lambda: [len(hub.log.matching(r"connected user=")) for hub in hubs]  # noqa: E731
    deadline = time.monotonic() + 10
    while sum(counts()) < 40 and time.monotonic() < deadline:  # the hubs' log pipes catching up
        await asyncio.sleep(0.02)
    assert sum(counts()) == 40 and all(counts()), counts()  # both hubs took some (all on one: p = 2^-39)
    for ws in clients:
        await subscribe(ws, "news")
    ini = {f"pybroadcast.{k}": v for k, v in options.items() if k in ("driver", "redis_url", "redis_prefix")}
    assert run_php("broadcast('news', 'to everyone');", ini=ini).returncode == 0
    for ws in clients:
        assert (await next_event(ws, "message"))["data"] == "to everyone"
    for ws in clients:
        await ws.close()
