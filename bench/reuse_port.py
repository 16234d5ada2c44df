"""make bench: one hub vs two hubs sharing one port (SO_REUSEPORT, Redis driver) at saturation.

A backlog on one channel, pushed out as fast as the hubs can: 10,000 subscribers (spread over
the hubs by the kernel) and bursts of 60 messages published to Redis in one write, so that each
hub reads a burst at once and sweeps its subscribers once, every core it has busy (~100%). The
figure is deliveries per second from the publish to the last byte at the last subscriber (the
median burst), by the kernel's receive timestamps.

The subscribers cost the cores nothing during a burst: they have room for it in their receive
buffers, do not read it, and look only afterwards (real subscribers read on their own
machines). Before (2,000 subscribers reading with MSG_TRUNC every 30 ms, 10,000 messages through
redis-py's pipeline), the load generator took ~40% of a core and drove the window: a hub had
written everything ~0.25 s before the last subscriber had read it, and the two hubs' figure was
1.04-1.55x one's. Bursts follow each other within the loopback's 200 ms RTO (a longer silence
puts the receivers in quick-ack mode, whose ACKs the hubs' cores process).
"""

from __future__ import annotations

import array
import fcntl
import itertools
import multiprocessing
import os
import re
import socket
import struct
import statistics
import termios
import time
from typing import Any

from bench.clients import HANDSHAKE, masked_text, subscribe_frame

CHANNEL = "saturation"
PAYLOAD = "x" * 100
LOOK = 0.1  # seconds after a burst's start when the subscribers look (one takes 40-80 ms)
SO_TIMESTAMPNS = 35  # Linux's (asm-generic/socket.h); the socket module does not name it
BURSTS = 9
RECEIVE_BUFFER = 1 << 20  # bytes asked for (the kernel doubles it; net.core.rmem_max caps it)


def _connect(port: int, user: str) -> tuple[socket.socket, str]:
    """A connection and the hub it landed on (the node part of its connection id)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.connect(("127.0.0.1", port))
    sock.sendall(HANDSHAKE.format(path=f"/ws?user={user}", key="dGhlIHNhbXBsZSBub25jZQ==").encode())
    data = b""
    while b'"connected"' not in data:
        data += sock.recv(4096)
    assert data.startswith(b"HTTP/1.1 101"), data[:80]
    node = re.search(rb'"connection": ?"(\d+)\.', data)
    assert node, data[-200:]
    return sock, node.group(1).decode()


def _subscribers(port: int, count: int, hubs: int, messages: int, control: Any) -> None:
    """`count` subscribers, as many on each hub (the kernel picks one per connection: surplus ones
    are closed), with room in their receive buffers for a burst. For each burst: say ready, leave
    the cores to the hubs, then report when the last subscriber got its last byte, by the kernel's
    receive timestamps (a subscriber's reads are its own machine's work: here they would take the
    hubs' cores, and even waking to look cost them 5-10%)."""
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
        # Now, long before a burst: the kernel turns receive timestamps on for the machine in deferred
        # work, and a burst that came first had none (seen once in a --quick run).
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
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
    burst = messages * size
    room = sockets[0].getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    assert 4 * burst <= room, f"a {burst}-byte burst needs more room than {room} bytes of receive buffer"
    sink = bytearray(room)
    queued = array.array("i", [0])
    while control.recv() == "burst":
        control.send("ready")
        waiting = sockets
        while waiting:
            time.sleep(LOOK)
            waiting = [sock for sock in waiting
                       if fcntl.ioctl(sock, termios.FIONREAD, queued) or queued[0] < burst]
        control.send(max(_last_arrival(sock, sink, burst) for sock in sockets))


def _last_arrival(sock: socket.socket, sink: bytearray, size: int) -> float:
    """Discards the `size` bytes `sock` holds (not copied: MSG_TRUNC); when the last arrived."""
    taken, ancillary, _, _ = sock.recvmsg_into([sink], socket.CMSG_SPACE(16), socket.MSG_TRUNC)
    assert taken == size, (taken, size)
    assert ancillary, "a burst without its receive timestamp"
    [(level, kind, data)] = ancillary
    assert (level, kind) == (socket.SOL_SOCKET, SO_TIMESTAMPNS)
    seconds, nanoseconds = struct.unpack("qq", data)
    return seconds + nanoseconds / 1e9


def saturation(hub_class: Any, redis_url: str, hub_cpus: list[set[int]], subscribers: int,
               messages: int, bursts: int) -> dict[str, Any]:
    """`bursts` bursts of `messages` to `subscribers` of one channel: the median burst's deliveries/s,
    and the hubs' CPU per delivery over all of them."""
    import redis

    from pybroadcast.drivers.redis import codec, keys
    from pybroadcast.events import MESSAGE, Event

    from harness.processes import cpu_seconds, free_port

    port = free_port()
    prefix = f"sat{os.getpid()}-{len(hub_cpus)}"
    options = {"driver": "redis", "redis_url": redis_url, "redis_prefix": prefix, "listen": f"127.0.0.1:{port}",
               "reuse_port": "on", "history_size": 0, "max_frame_rate": 1000,
               "ping_interval": 3600}  # (a ping would be a frame more than the burst)
    hubs = [hub_class(options, cpus=cpus) for cpus in hub_cpus]
    for hub in hubs:
        hub.port = port
    context = multiprocessing.get_context("fork")
    pipe, child = context.Pipe()
    load = context.Process(target=_subscribers, args=(port, subscribers, len(hubs), messages, child), daemon=True)
    load.start()
    try:
        assert pipe.poll(120) and pipe.recv() == "subscribed"
        client = redis.Redis.from_url(redis_url)
        topic = keys.KeySpace(prefix).topic(CHANNEL)
        message = codec.encode(Event(MESSAGE, CHANNEL, PAYLOAD))
        client.publish(topic, message)
        connection = client.connection_pool.get_connection()
        # One write, so that Redis reads the burst at once and each hub gets it in one read (redis-py
        # would send a pipeline in 6,000-byte pieces, and a hub sweep the first piece on its own).
        command = b"".join(connection.pack_commands([("PUBLISH", topic, message)] * messages))
        assert len(command) <= 16384, "more than Redis reads at once"
        times = []
        cpu = -sum(cpu_seconds(hub.process.pid) for hub in hubs)
        for _ in range(bursts):
            pipe.send("burst")
            assert pipe.poll(60) and pipe.recv() == "ready"
            started = time.time()  # (the kernel's receive timestamps are wall-clock)
            connection.send_packed_command([command])
            assert pipe.poll(60), "the subscribers did not get the whole burst"
            times.append(pipe.recv() - started)
            for _ in range(messages):
                connection.read_response()
        cpu += sum(cpu_seconds(hub.process.pid) for hub in hubs)  # (idle between bursts but for what they left)
        pipe.send("stop")
    finally:
        load.kill()
        for hub in hubs:
            hub.process.kill()  # (a graceful stop would close 10,000 connections one by one)
            hub.process.wait(30)
    deliveries = messages * (subscribers // len(hubs)) * len(hubs)  # (as _subscribers holds)
    seconds = statistics.median(times)
    return {"hubs": len(hubs), "subscribers": deliveries // messages, "messages": messages, "bursts": bursts,
            "deliveries_per_s": round(deliveries / seconds), "ms": round(seconds * 1000, 1),
            "ms_range": f"{min(times) * 1000:.1f}-{max(times) * 1000:.1f}",
            "hub_cpu_us_per_delivery": round(cpu / bursts / deliveries * 1e6, 2)}


def one_vs_two(hub_class: Any, redis_url: str, cpus: list[int], subscribers: int, messages: int,
               runs: int, bursts: int = BURSTS) -> list[dict[str, Any]]:
    """One hub on one core, two on one port (one per core), alternating; the ratio in each row."""
    rows = []
    for _ in range(runs):
        one = saturation(hub_class, redis_url, [{cpus[0]}], subscribers, messages, bursts)
        two = saturation(hub_class, redis_url, [{cpus[0]}, {cpus[-1]}], subscribers, messages, bursts)
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
                                                             int(sys.argv[1]) if len(sys.argv) > 1 else 10000,
                                                             int(sys.argv[2]) if len(sys.argv) > 2 else 60, 1)))
    finally:
        server.stop()
