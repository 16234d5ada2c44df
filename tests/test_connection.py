"""The hub's connection layer on its own (connection.py, listener.py): real websockets clients
and raw sockets on loopback against a Listener with a recording endpoint."""

from __future__ import annotations

import asyncio
import gc
import socket
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.protocol import State

from pybroadcast.api_request import BODY_LIMIT, ApiRequest, is_api_request
from pybroadcast.connection import HEAD_LIMIT, HOLD_LIMIT, MAX_QUEUE
from support import Taker, listening


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Polls a state the connection exposes no event for (the kernel's side of it)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


class Gated(Taker):
    """Handling the first message waits for `gate`; the order of what it hears is recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.get_running_loop().create_future()
        self.log: list[str] = []

    async def received(self, connection: Any, message: str | bytes) -> None:
        self.log.append(f"start {message}")
        if message == "1":
            await self.gate
        self.log.append(f"end {message}")
        await super().received(connection, message)

    async def closed(self, connection: Any) -> None:
        self.log.append("closed")
        await super().closed(connection)


class Deciding(Taker):
    """Deciding an upgrade request waits for `gate` (as onAuthenticate runs in PHP); `asked` once it began."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = asyncio.get_running_loop().create_future()
        self.gate = asyncio.get_running_loop().create_future()

    async def process_request(self, connection: Any, request: Any) -> None:
        self.asked.set_result(None)
        await self.gate


UPGRADE = (b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


@pytest.fixture
async def gated() -> AsyncIterator[tuple[Gated, Any]]:
    taker = Gated()
    listener = await listening(taker)
    yield taker, listener
    await listener.close()


def url(listener: Any) -> str:
    return f"ws://127.0.0.1:{listener.sockets[0].getsockname()[1]}"


async def test_messages_are_handled_one_at_a_time_and_closed_comes_after_the_last(gated) -> None:
    taker, listener = gated
    ws = await connect(url(listener))
    connection = await asyncio.wait_for(taker.taken.get(), 10)
    for n in ("1", "2", "3"):
        await ws.send(n)
    await ws.close()
    await until(lambda: connection.protocol.state is State.CLOSED)  # gone while "1" is being handled
    assert taker.log == ["start 1"]
    taker.gate.set_result(None)
    assert await asyncio.wait_for(taker.gone.get(), 10) is connection
    assert taker.log == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3", "closed"]
    assert connection not in listener.connections


async def test_reading_pauses_while_messages_wait_and_resumes_when_they_are_handled(gated) -> None:
    taker, listener = gated
    async with connect(url(listener)) as ws:
        connection = await asyncio.wait_for(taker.taken.get(), 10)
        count = 10 * MAX_QUEUE
        for n in range(1, count + 1):
            await ws.send(str(n))
        await until(lambda: not connection.transport.is_reading())
        taker.gate.set_result(None)
        await until(lambda: len(taker.messages) == count)
        assert taker.messages == [str(n) for n in range(1, count + 1)]
        assert connection.transport.is_reading()


async def test_a_fragmented_message_is_one_message_and_invalid_utf8_is_closed_with_1007(gated) -> None:
    taker, listener = gated
    taker.gate.set_result(None)
    async with connect(url(listener)) as ws:
        await asyncio.wait_for(taker.taken.get(), 10)
        await ws.send(iter(["ab", "cd"]))
        await ws.send(b"\x00bin")
        ws.protocol.send_text(b"\xff\xfe")  # the client library would not send this itself
        ws.send_data()
        await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 1007
    assert taker.messages == ["abcd", b"\x00bin"]


async def test_an_open_connection_keeps_no_reference_to_its_upgrade_request(gated) -> None:
    """websockets' handshake parser would keep it (~1.5 KiB a connection) for the connection's life."""
    taker, listener = gated
    async with connect(url(listener), additional_headers={"X-Pad": "x" * 2000}) as ws:
        connection = await asyncio.wait_for(taker.taken.get(), 10)
        request = weakref.ref(connection.request)
        connection.request = None  # as the hub's endpoint does once it has read it
        gc.collect()
        assert request() is None
        await ws.send("2")  # frames are still read
        await until(lambda: taker.messages == ["2"])


async def test_a_connection_that_ended_is_freed_without_the_garbage_collector(gated) -> None:
    """Once over, a connection's objects (websockets' protocol, asyncio's transport) hold no reference
    cycles (connection._release): with thousands of connections, the full collection that would
    free them stalls the hub 0.1-0.4 s, and the hub makes those rare (runtime.FULL_COLLECTION_AFTER)."""
    taker, listener = gated
    taker.gate.set_result(None)
    gc.collect()
    gc.disable()
    try:
        ended = []
        for way in ("client closes", "client vanishes", "hub closes"):
            ws = await connect(url(listener))
            connection = await asyncio.wait_for(taker.taken.get(), 10)
            await ws.send("1")
            await until(lambda: len(taker.messages) == len(ended) // 2 + 1)
            ended += [weakref.ref(connection.protocol), weakref.ref(connection.transport)]
            if way == "client closes":
                await ws.close()
            elif way == "client vanishes":
                ws.transport.abort()
            else:
                connection.close()
            assert await asyncio.wait_for(taker.gone.get(), 10) is connection
            del connection
            await until(lambda: not listener.connections)
        assert [alive() for alive in ended] == [None] * 6
    finally:
        gc.enable()


async def test_a_ping_is_answered_and_clears_awaiting_pong(gated) -> None:
    taker, listener = gated
    async with connect(url(listener)):
        connection = await asyncio.wait_for(taker.taken.get(), 10)
        connection.ping()
        assert connection.awaiting_pong
        await until(lambda: not connection.awaiting_pong)


async def test_closing_the_listener_closes_open_connections_with_1001_after_closed_is_heard(gated) -> None:
    taker, listener = gated
    clients = [await connect(url(listener)) for _ in range(3)]
    for _ in clients:
        await asyncio.wait_for(taker.taken.get(), 10)
    await asyncio.wait_for(listener.close(), 10)
    assert taker.gone.qsize() == 3 and not listener.connections
    for ws in clients:
        await asyncio.wait_for(ws.wait_closed(), 10)
        assert ws.close_code == 1001


async def test_an_opening_handshake_not_finished_in_open_timeout_is_dropped() -> None:
    taker = Taker()
    listener = await listening(taker, open_timeout=0.2)
    port = listener.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the rest
    assert await asyncio.wait_for(reader.read(), 10) == b""
    await until(lambda: not listener.connections)
    assert taker.taken.empty()
    writer.close()
    await listener.close()


async def test_a_request_that_is_no_http_gets_no_upgrade_and_is_closed() -> None:
    taker = Taker()
    listener = await listening(taker)
    port = listener.sockets[0].getsockname()[1]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01 hello, no HTTP here\r\n\r\n\x88\x80")
        answer = b""
        while chunk := await asyncio.to_thread(sock.recv, 4096):
            answer += chunk
    assert b"101" not in answer
    await until(lambda: not listener.connections)
    assert taker.taken.empty()
    await listener.close()


async def test_a_client_that_sends_over_hold_limit_before_its_answer_is_dropped() -> None:
    taker = Deciding()
    listener = await listening(taker)
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.sockets[0].getsockname()[1])
    pings = b"\x89\x80abcd" * (HOLD_LIMIT // 6 + 1)
    writer.write(UPGRADE + pings)
    try:
        answer = await asyncio.wait_for(reader.read(), 10)
    except ConnectionResetError:
        answer = b""
    assert answer == b""  # dropped while its request was being decided
    taker.gate.set_result(None)
    await until(lambda: not listener.connections)
    assert taker.taken.empty()
    writer.close()
    await listener.close()


def upgrade_of(size: int) -> bytes:
    """An upgrade request of exactly `size` bytes, padded with header lines websockets accepts (< 8 KiB)."""
    head, end = UPGRADE[:-2], b"\r\n"
    pad = size - len(head) - len(end)
    lines = []
    while pad:
        n = min(pad, 8000)
        if pad - n and pad - n < 16:
            n -= 16  # leave room for one more whole line
        lines.append(b"X-Pad-%d: %s\r\n" % (len(lines), b"a" * (n - len(b"X-Pad-%d: \r\n" % len(lines)))))
        pad -= n
    request = head + b"".join(lines) + end
    assert len(request) == size
    return request


async def test_a_request_head_over_head_limit_is_answered_431_and_never_decided() -> None:
    taker = Deciding()
    listener = await listening(taker)
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.sockets[0].getsockname()[1])
    request = upgrade_of(HEAD_LIMIT + 1)
    writer.write(request[:20_000])  # in two reads: the limit is on their sum
    await until(lambda: any(c._head_size == 20_000 for c in listener.connections))
    writer.write(request[20_000:])
    answer = await asyncio.wait_for(reader.read(), 10)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:60]
    assert not taker.asked.done()
    writer.close()
    await until(lambda: not listener.connections)
    await listener.close()


async def test_a_request_head_of_head_limit_is_decided() -> None:
    taker = Deciding()
    listener = await listening(taker)
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.sockets[0].getsockname()[1])
    writer.write(upgrade_of(HEAD_LIMIT))
    await asyncio.wait_for(taker.asked, 10)
    taker.gate.set_result(None)
    assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 101 ")
    writer.close()
    await listener.close()


async def test_a_handshake_being_decided_when_the_listener_closes_is_answered_503() -> None:
    taker = Deciding()
    listener = await listening(taker)
    port = listener.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(UPGRADE)
    await asyncio.wait_for(taker.asked, 10)
    closing = asyncio.create_task(listener.close())
    await asyncio.sleep(0)  # one loop turn: the task starts
    assert not listener.serving
    taker.gate.set_result(None)
    answer = await asyncio.wait_for(reader.read(), 10)
    assert answer.startswith(b"HTTP/1.1 503"), answer[:60]
    writer.close()
    await asyncio.wait_for(closing, 10)
    assert taker.taken.empty() and not listener.connections


class EchoApi:
    """Stands in for PusherApi (tested end to end in test_pusher.py): says what it was asked."""

    async def handle(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        return 200, {"method": method, "target": target, "bytes": len(body)}


async def api_answer(listener: Any, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.sockets[0].getsockname()[1])
    writer.write(request)
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


async def test_an_http_api_request_on_the_websocket_port_is_answered_and_closed() -> None:
    taker = Taker()
    listener = await listening(taker, api=EchoApi())
    answer = await api_answer(listener, b"POST /apps/1/events?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b'{"method": "POST", "target": "/apps/1/events?x=1", "bytes": 5}')
    await until(lambda: not listener.connections)
    assert taker.taken.empty()
    await listener.close()


async def test_an_http_api_request_line_that_arrives_in_pieces_is_still_an_api_request() -> None:
    listener = await listening(Taker(), api=EchoApi())
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.sockets[0].getsockname()[1])
    writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    writer.write(b"POST /a")  # as far as it can be taken for an upgrade request's path
    await until(lambda: any(getattr(c, "_first", None) == b"POST /a" for c in listener.connections))
    writer.write(b"pps/1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b'{"method": "POST", "target": "/apps/1/events", "bytes": 2}')
    await listener.close()


def test_the_first_bytes_of_a_connection_tell_an_api_request_once_they_can() -> None:
    assert [is_api_request(data) for data in (b"P", b"POST", b"POST /", b"POST /use", b"DELETE /users")] == [None] * 5
    assert is_api_request(b"GET /apps/1/channels") and is_api_request(b"POST /users/")
    assert [is_api_request(data) for data in (b"X", b"GET /ws", b"GET /?user=1", b"PATCH /apps/", b"GET  /apps/")] \
        == [False] * 5


async def test_an_http_api_body_over_the_limit_is_413_and_a_broken_request_400() -> None:
    listener = await listening(Taker(), api=EchoApi())
    size = BODY_LIMIT + 1
    answer = await api_answer(listener, b"POST /apps/1/events HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
                              + b"x" * size)
    assert answer.startswith(b"HTTP/1.1 413")
    answer = await api_answer(listener, b"POST /apps/1/events HTTP/1.1\r\nContent-Length: nine\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and b"bad HTTP request" in answer
    await listener.close()


async def test_an_unfinished_http_api_request_is_dropped_after_open_timeout_or_at_shutdown() -> None:
    slow = await listening(Taker(), api=EchoApi(), open_timeout=0.2)
    assert await api_answer(slow, b"POST /apps/1/events HTTP/1.1\r\nHost: x\r\n") == b""
    await slow.close()
    listener = await listening(Taker(), api=EchoApi())
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.sockets[0].getsockname()[1])
    writer.write(b"POST /apps/1/events HTTP/1.1\r\nHost: x\r\n")
    await until(lambda: any(isinstance(c, ApiRequest) for c in listener.connections))
    await asyncio.wait_for(listener.close(), 10)
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()


async def test_a_client_that_pings_and_never_reads_is_dropped_once_its_pongs_pass_the_write_limit(caplog) -> None:
    """Pongs are written by the connection itself, outside the outbox and its slow-client rule: a
    client that pings within the frame rate and reads nothing would make the hub buffer them forever."""
    taker = Taker()
    limit = 64 * 1024
    listener = await listening(taker, frame_rate=1e6, write_limit=limit)
    port = listener.sockets[0].getsockname()[1]
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        sock.sendall(UPGRADE)
        connection = await asyncio.wait_for(taker.taken.get(), 10)
        # The kernel's send buffer grows to megabytes on loopback: keep it small, so that what the
        # client leaves unread piles up in the hub.
        connection.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        mask = b"\x01\x02\x03\x04"
        ping = bytes([0x89, 0x80 | 125]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(b"p" * 125))
        peak = 0

        def watch() -> bool:
            nonlocal peak
            peak = max(peak, connection.transport.get_write_buffer_size())
            return connection.transport.is_closing()

        try:
            await asyncio.to_thread(sock.sendall, ping * 2000)  # 254 KB of pongs to answer
        except (ConnectionResetError, BrokenPipeError):
            pass  # dropped before it sent them all
        await until(watch)
        assert await asyncio.wait_for(taker.gone.get(), 10) is connection
    assert peak <= limit + 4096
    assert "over 65536 bytes unsent (the client does not read)" in caplog.text
    await listener.close()


async def test_closing_a_connection_past_the_write_limit_still_sends_the_close_frame_behind_its_data() -> None:
    """The limit drops a client that does not read; a close (disconnectUser, shutdown) is not dropped for it."""
    taker = Taker()
    listener = await listening(taker, write_limit=64 * 1024)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", listener.sockets[0].getsockname()[1]))
        sock.sendall(UPGRADE)
        connection = await asyncio.wait_for(taker.taken.get(), 10)
        connection.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        frame = b"\x82\x7f" + (200 * 1024).to_bytes(8, "big") + b"x" * 200 * 1024  # one binary frame, as a batch
        connection.transport.write(frame)
        assert connection.transport.get_write_buffer_size() > 64 * 1024
        connection.close(1000, "bye")
        assert connection.protocol.state is State.CLOSING and not connection.transport.is_closing()
        received = b""
        while b"\x88\x05\x03\xe8bye" not in received[-16:]:  # the close frame, after the whole frame
            chunk = await asyncio.to_thread(sock.recv, 65536)
            assert chunk, "the connection ended before its close frame"
            received += chunk
        assert received.startswith(b"HTTP/1.1 101") and received.endswith(frame + b"\x88\x05\x03\xe8bye")
    await listener.close()
