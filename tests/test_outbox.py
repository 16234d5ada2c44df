"""The outbox: what each peer gets, in what order, and when a flush may wait.

Peers are the hub's own connections (listener.py) with real websockets clients on loopback; the
hub's fan-out trace is checked against a real hub.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pybroadcast.dialects import json_frame
from pybroadcast.peer import SLICE, Outbox, Peer
from support import Taker, ack, client, listening, recv_json, short_tempdir, subscribe

LIMIT = 1 << 20


class Pair:
    """Peers on a shared outbox, each with the client at its other end."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.peers: list[Peer] = []
        self.clients: list[ClientConnection] = []


async def connected(count: int, limit: int = LIMIT) -> AsyncIterator[Pair]:
    outbox = Outbox(asyncio.get_running_loop(), limit)
    result = Pair(outbox)
    taker = Taker()
    listener = await listening(taker)
    port = listener.sockets[0].getsockname()[1]
    for n in range(count):
        result.clients.append(await connect(f"ws://127.0.0.1:{port}", compression=None))
        result.peers.append(Peer(await asyncio.wait_for(taker.taken.get(), 10), str(n), str(n), outbox))
    yield result
    for ws in result.clients:
        await ws.close()
    await listener.close()


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    """Two peers."""
    async for result in connected(2):
        yield result


@pytest.fixture
async def crowd() -> AsyncIterator[Pair]:
    """More peers than a sweep writes in one loop turn."""
    async for result in connected(SLICE + 72):  # two slices
        yield result


def frame(text: str) -> bytes:
    return json_frame({"n": text})


async def received(ws: ClientConnection, count: int) -> list[str]:
    return [json.loads(await asyncio.wait_for(ws.recv(), 10))["n"] for _ in range(count)]


async def test_each_peer_gets_its_frames_in_the_order_they_were_sent(pair: Pair) -> None:
    a, b = pair.peers
    a.send(frame("a1"))
    pair.outbox.send_all([a, b], frame("m1"))
    b.send(frame("b1"))
    pair.outbox.send_all([a, b], frame("m2"))
    pair.outbox.send_all([a], frame("m3"))
    pair.outbox.send_all((a, b), frame("m4"))
    assert await received(pair.clients[0], 5) == ["a1", "m1", "m2", "m3", "m4"]
    assert await received(pair.clients[1], 4) == ["m1", "b1", "m2", "m4"]


async def test_a_message_goes_to_the_peers_it_was_sent_to_not_those_who_came_later(pair: Pair) -> None:
    a, b = pair.peers
    subscribers = {a}
    pair.outbox.send_all(subscribers, frame("before"))
    subscribers.add(b)
    subscribers.discard(a)  # gone before the flush: it still gets what was sent to it
    pair.outbox.send_all(subscribers, frame("after"))
    assert await received(pair.clients[0], 1) == ["before"]
    assert await received(pair.clients[1], 1) == ["after"]


async def test_close_writes_what_was_queued_then_the_close_frame_and_nothing_after(pair: Pair) -> None:
    a, b = pair.peers
    pair.outbox.send_all([a, b], frame("first"))
    a.close(4001, "bye")
    pair.outbox.send_all([a, b], frame("late"))
    ws = pair.clients[0]
    assert await received(ws, 1) == ["first"]
    await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 4001
    assert await received(pair.clients[1], 2) == ["first", "late"]


async def test_a_batch_larger_than_the_slow_client_bound_reaches_a_client_that_reads(pair: Pair) -> None:
    a, b = pair.peers
    count = 600
    for n in range(count):  # ~1.2 MB, all queued before one flush: one write to each
        pair.outbox.send_all([a, b], json_frame({"n": str(n), "pad": "x" * 2000}))
    for ws in pair.clients:
        assert await received(ws, count) == [str(n) for n in range(count)]


async def test_what_a_socket_does_not_take_at_once_goes_before_anything_after_it() -> None:
    """A sweep sends to each socket itself (send_many) only while its transport holds nothing: the
    rest of a frame the kernel took in part waits there, and every frame after it queues behind."""
    async for pair in connected(2, limit=64 << 20):
        (a, b), (ws, _) = pair.peers, pair.clients
        fd = a.connection.direct_fd
        assert fd == a.transport.get_extra_info("socket").fileno()
        count = 8000  # ~16 MB: more than loopback TCP takes in one send
        for n in range(count):
            pair.outbox.send_all([a, b], json_frame({"n": str(n), "pad": "x" * 2000}))
        await asyncio.sleep(0)  # the flush
        assert a.transport.get_write_buffer_size() > 0 and a.connection.direct_fd == -1
        pair.outbox.send_all([a, b], frame("after"))
        await asyncio.sleep(0)
        for client in pair.clients:
            assert await received(client, count + 1) == [*map(str, range(count)), "after"]
        assert a.transport.get_write_buffer_size() == 0 and a.connection.direct_fd == fd  # drained: direct again
        pair.outbox.send_all([a], frame("again"))
        assert await received(ws, 1) == ["again"]


async def test_a_connection_the_hub_dropped_gets_nothing_more(pair: Pair) -> None:
    a, b = pair.peers
    pair.outbox.send_all([a, b], frame("late"))  # queued: the flush runs before the transport closes
    a.connection.abort()
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(pair.clients[0].recv(), 10)
    assert await received(pair.clients[1], 1) == ["late"]


async def test_a_connection_whose_client_is_gone_is_not_sent_to() -> None:
    """Once the transport has closed the socket, its number may be a new connection's."""
    taker = Taker()
    listener = await listening(taker)
    ws = await connect(f"ws://127.0.0.1:{listener.sockets[0].getsockname()[1]}")
    connection = await asyncio.wait_for(taker.taken.get(), 10)
    assert connection.direct_fd >= 0
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.transport.abort()  # a reset, not an end of stream: the hub's read fails, no EOF is received
    assert await asyncio.wait_for(taker.gone.get(), 10) is connection
    assert connection.direct_fd == -1
    await listener.close()


async def test_a_message_for_the_same_peers_joins_the_sweep_in_progress(crowd: Pair) -> None:
    outbox, peers, last = crowd.outbox, crowd.peers, crowd.peers[-1]
    outbox.send_all(set(peers), frame("m1"))
    await asyncio.sleep(0)  # the sweep's first slice
    assert outbox._sweep and 0 < outbox._at < len(peers)
    outbox.send_all(set(peers), frame("m2"))  # joins: the rest get m1 and m2 together, the first slice m2 next
    last.send(frame("own"))  # not for the same peers: waits its turn
    outbox.send_all(set(peers), frame("m3"))  # queued behind it: does not join
    await asyncio.sleep(0)  # the sweep's second and last slice, m1 and m2 in one write each
    assert not outbox._sweep
    assert [(len(target) if isinstance(target, tuple) else target, data) for target, data in outbox._queue] == [
        (SLICE, frame("m2")), (last, frame("own")), (len(peers), frame("m3"))]
    for ws in crowd.clients[:-1]:
        assert await received(ws, 3) == ["m1", "m2", "m3"]
    assert await received(crowd.clients[-1], 4) == ["m1", "m2", "own", "m3"]


async def flushed_after(outbox: Outbox, peer: Peer, ws: ClientConnection, turns: int) -> bool:
    """Sends one frame; whether it was written within `turns` loop turns."""
    outbox.send_all([peer], frame("x"))
    for _ in range(turns):
        await asyncio.sleep(0)
    written = not outbox._queue
    assert await received(ws, 1) == ["x"]
    return written


async def test_an_idle_loop_writes_on_its_next_turn_and_a_loop_behind_waits(pair: Pair) -> None:
    outbox, (a, _), (ws, _) = pair.outbox, pair.peers, pair.clients
    loop = asyncio.get_running_loop()
    assert await flushed_after(outbox, a, ws, 2)

    def just_flushed(load: float, cost: float) -> None:
        """As if a 50 ms flush had just ended, under `load` deliveries/s costing `cost` s per write."""
        outbox._flushed, outbox._next_flush = loop.time(), loop.time() + 0.05
        outbox._load, outbox._cost = load, cost

    just_flushed(load=10_000, cost=0.00005)  # one write each would take half the loop: not behind
    assert await flushed_after(outbox, a, ws, 2)
    just_flushed(load=100_000, cost=0.00005)  # five loops' worth: behind, the flush waits its window
    assert not await flushed_after(outbox, a, ws, 2)
    just_flushed(load=100_000, cost=0.00005)
    outbox._flushed -= 0.01  # but the loop has been idle since the last flush: no reason to wait
    assert await flushed_after(outbox, a, ws, 2)


async def test_the_fanout_trace_records_each_message_and_each_flush(make_hub: Any) -> None:
    trace = os.path.join(short_tempdir(), "fanout.trace")
    hub = make_hub(env={"PYBROADCAST_FANOUT_TRACE": trace})
    clients = [await client(hub, user=str(i)) for i in range(3)]
    for ws in clients:
        assert ack(await subscribe(ws, "news")) == {"event": "subscribed", "channel": "news"}
    for n in range(2):
        result = hub.php(f"broadcast('news', 'm{n}');")
        assert result.returncode == 0, result.stderr
        for ws in clients:
            assert (await recv_json(ws))["data"] == f"m{n}"
    lines = [line.split() for line in open(trace)]
    queued = [line for line in lines if line[0] == "queued"]
    flushes = [line for line in lines if line[0] == "flush" and line[3] == "3"]
    assert [line[2] for line in queued] == ["3", "3"]
    assert len(flushes) >= 2
    for (_, at, _), (_, start, end, _) in zip(queued, flushes):
        assert float(at) <= float(start) <= float(end)
    for ws in clients:
        await ws.close()
