"""make bench: one hub vs two hubs sharing one port (SO_REUSEPORT, Redis driver) at saturation.

A burst of messages is published to Redis at once, to one channel whose subscribers the
kernel spread over the hubs; the figure is deliveries per second from the first publish to
the last byte at the last subscriber. The subscribers discard what arrives without copying it
(recv with MSG_TRUNC) and read every DRAIN_INTERVAL, so the load generator needs less of the
cores the hubs share with it. Even so the hubs are not the only bottleneck on a 2-core machine
(measured: one hub at 70-80% of its core during a burst, Redis ~1%, the publisher 3-5%; the hub
has read all 10,000 messages within ~0.23 s and made its last write ~0.25 s before the last
subscriber has everything, which it drains from the hub's buffers at its own pace). With two
drain processes reading every 5 ms both figures rose (one hub 24-26, two 33-35 million
deliveries/s: 1.33-1.36x, the two cores full): the ratio here is the machine's as much as the hubs'.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import re
import socket
import time
from typing import Any

from bench.clients import HANDSHAKE, masked_text, subscribe_frame

CHANNEL = "saturation"
PAYLOAD = "x" * 100
DRAIN_INTERVAL = 0.03  # seconds: the kernel buffers that much easily


def _connect(port: int, user: str) -> tuple[socket.socket, str]:
    """A connection and the hub it landed on (the node part of its connection id)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(HANDSHAKE.format(path=f"/ws?user={user}", key="dGhlIHNhbXBsZSBub25jZQ==").encode())
    data = b""
    while b'"connected"' not in data:
        data += sock.recv(4096)
    assert data.startswith(b"HTTP/1.1 101"), data[:80]
    node = re.search(rb'"connection": ?"(\d+)\.', data)
    assert node, data[-200:]
    return sock, node.group(1).decode()


def _drain(port: int, count: int, hubs: int, control: Any) -> None:
    """`count` subscribers, as many on each hub (the kernel picks one per connection: surplus ones
    are closed): subscribe, learn the frame size from one message, then count bytes of the
    burst until each has them all; reports when the last one has."""
    os.sched_setaffinity(0, range(os.cpu_count() or 1))  # wherever the hubs leave room
    per_hub = count // hubs
    by_hub: dict[str, list[socket.socket]] = {}
    spare = []
    for user in itertools.count():
        if sum(map(len, by_hub.values())) == per_hub * hubs:
            break
        sock, node = _connect(port, f"s{user}")
        group = by_hub.setdefault(node, [])
        (group if len(group) < per_hub else spare).append(sock)
    for sock in spare:
        sock.close()
    sockets = [sock for group in by_hub.values() for sock in group]
    for sock in sockets:
        sock.sendall(masked_text(subscribe_frame("native", CHANNEL)))
    for sock in sockets:
        seen = b""
        while b"subscribed" not in seen:
            seen += sock.recv(4096)
    control.send("subscribed")
    size = 0
    for sock in sockets:  # one message each: its frame size (all are the same)
        data = sock.recv(4096)
        assert PAYLOAD.encode() in data, data[:80]
        size = len(data)
        sock.setblocking(False)
    control.send(size)
    expected = control.recv() * size
    missing = {sock: expected for sock in sockets}
    sink = bytearray(1 << 20)
    # Every DRAIN_INTERVAL, take whatever each socket holds: one call per socket per pass,
    # instead of one per wake-up.
    while missing:
        time.sleep(DRAIN_INTERVAL)
        for sock in list(missing):
            try:
                missing[sock] -= sock.recv_into(sink, len(sink), socket.MSG_TRUNC)  # discarded, not copied
            except BlockingIOError:
                continue
            if missing[sock] <= 0:
                del missing[sock]
    control.send(time.monotonic())
    control.recv()


def saturation(hub_class: Any, redis_url: str, hub_cpus: list[set[int]], subscribers: int, messages: int,
               processes: int = 1) -> dict[str, Any]:
    import redis

    from pybroadcast.drivers.redis import codec, keys
    from pybroadcast.events import MESSAGE, Event

    from harness.processes import cpu_seconds, free_port

    port = free_port()
    prefix = f"sat{os.getpid()}-{len(hub_cpus)}"
    options = {"driver": "redis", "redis_url": redis_url, "redis_prefix": prefix, "listen": f"127.0.0.1:{port}",
               "reuse_port": "on", "history_size": 0, "max_frame_rate": 1000}
    hubs = [hub_class(options, cpus=cpus) for cpus in hub_cpus]
    for hub in hubs:
        hub.port = port
    context = multiprocessing.get_context("fork")
    pipes, workers = [], []
    for i in range(processes):
        parent, child = context.Pipe()
        worker = context.Process(target=_drain, args=(port, subscribers // processes, len(hubs), child), daemon=True)
        worker.start()
        pipes.append(parent)
        workers.append(worker)
    try:
        for pipe in pipes:
            assert pipe.poll(60) and pipe.recv() == "subscribed"
        client = redis.Redis.from_url(redis_url)
        topic = keys.KeySpace(prefix).topic(CHANNEL)
        client.publish(topic, codec.encode(Event(MESSAGE, CHANNEL, PAYLOAD)))
        for pipe in pipes:
            assert pipe.poll(30)
            pipe.recv()
        for pipe in pipes:
            pipe.send(messages)
        burst = client.pipeline(transaction=False)
        for _ in range(messages):
            burst.publish(topic, codec.encode(Event(MESSAGE, CHANNEL, PAYLOAD)))
        cpu_before = [cpu_seconds(hub.process.pid) for hub in hubs]
        load_before = sum(cpu_seconds(worker.pid) for worker in workers)
        started = time.monotonic()
        burst.execute()
        finished = []
        for pipe in pipes:
            assert pipe.poll(120), "the subscribers did not get the whole burst"
            finished.append(pipe.recv())
        seconds = max(finished) - started
        hub_cpu = [(cpu_seconds(hub.process.pid) - before) / seconds for hub, before in zip(hubs, cpu_before)]
        load_cpu = (sum(cpu_seconds(worker.pid) for worker in workers) - load_before) / seconds
        for pipe in pipes:
            pipe.send("stop")
    finally:
        for worker in workers:
            worker.kill()
        for hub in hubs:
            hub.process.kill()  # (a graceful stop would close 2,000 connections one by one)
            hub.process.wait(30)
    deliveries = messages * (subscribers // processes // len(hubs)) * len(hubs) * processes  # (as _drain holds)
    return {"hubs": len(hubs), "subscribers": deliveries // messages, "messages": messages,
            "deliveries_per_s": round(deliveries / seconds), "seconds": round(seconds, 2),
            "hub_cpu_pct": "+".join(str(round(c * 100)) for c in hub_cpu), "subscribers_cpu_pct": round(load_cpu * 100)}


def one_vs_two(hub_class: Any, redis_url: str, cpus: list[int], subscribers: int, messages: int,
               runs: int) -> list[dict[str, Any]]:
    """One hub on one core, two on one port (one per core), alternating; the ratio in each row."""
    rows = []
    for _ in range(runs):
        one = saturation(hub_class, redis_url, [{cpus[0]}], subscribers, messages)
        two = saturation(hub_class, redis_url, [{cpus[0]}, {cpus[-1]}], subscribers, messages)
        two["vs_one_hub"] = round(two["deliveries_per_s"] / one["deliveries_per_s"], 2)
        one["vs_one_hub"] = 1.0
        rows += [one, two]
    return rows


if __name__ == "__main__":  # python -m bench.reuse_port: a quick look
    import sys

    sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    from bench.run import HubProcess, table
    from harness.redis_server import RedisServer

    server = RedisServer()
    try:
        print(table("one hub vs two on one port", one_vs_two(HubProcess, server.url, sorted(os.sched_getaffinity(0)),
                                                             int(sys.argv[1]) if len(sys.argv) > 1 else 2000,
                                                             int(sys.argv[2]) if len(sys.argv) > 2 else 3000, 1)))
    finally:
        server.stop()
