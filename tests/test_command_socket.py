"""The command socket's parser and server under malformed input (hardening)."""

from __future__ import annotations

import random
import socket

import pytest

from pybroadcast.drivers.memory import wire
from support import Hub, announced, client, recv_json, subscribe


def test_round_trip_of_any_bytes() -> None:
    fields = ["publish", "message", "news", "a,b:c\n" + "é" * 3, ""]
    body, rest = wire.split(wire.pack(*fields) + b"7:", 1 << 16)
    assert rest == b"7:" and wire.unpack(body) == fields


@pytest.mark.parametrize("data", [
    b"-5:abc,", b"+1:a,", b" 1:a,", b"1_0:aaaaaaaaaa,", b"\xd9\xa1:a,",  # int() takes all of these
    b":a,", b"x:a,", b"1:ab", b"9" * 21 + b":",
])
def test_malformed_message_lengths_are_refused(data: bytes) -> None:
    with pytest.raises(wire.MalformedMessage):
        wire.split(data, 1 << 16)


def test_a_declared_length_over_the_limit_is_refused_before_buffering() -> None:
    with pytest.raises(wire.MalformedMessage, match="over the limit"):
        wire.split(b"99999:", 1000)
    assert wire.split(b"999", 1000) == (None, b"999")  # digits may still be arriving


@pytest.mark.parametrize("body", [
    b"1:a,-4:,",  # a negative inner length pointing back at a comma: looped forever before
    b"-1:,", b"3:ab,", b"2:ab", b"2:ab;", b"1:\xff,", b"00000000000000000000001:a,",
])
def test_malformed_fields_are_refused(body: bytes) -> None:
    with pytest.raises(wire.MalformedMessage):
        wire.unpack(body)


def test_fuzzed_messages_end_in_bounded_work() -> None:
    """Seeded mutations of valid requests: each parse returns or raises MalformedMessage.

    A parse that loops or grows is caught by the test timeout; the size check
    shows no output is larger than its input.
    """
    rng = random.Random(7)
    seeds = [wire.pack(wire.PUBLISH, "message", "news", "hello"), wire.pack(wire.MEMBERS, "presence-x")]
    for _ in range(20_000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(data))
            op = rng.random()
            if op < 0.4:
                data[i] = rng.choice(b"-+:,0123456789 \xff" + bytes([rng.randrange(256)]))
            elif op < 0.7:
                data[i:i] = rng.choice([b"-", b"9", b"-9:", b",", b"1:a,"])
            else:
                del data[i]
        try:
            body, rest = wire.split(bytes(data), 1 << 16)
            if body is not None:
                fields = wire.unpack(body)
                assert sum(len(f) for f in fields) <= len(body)
        except wire.MalformedMessage:
            pass


def _send_raw(path: str, data: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(data)
        return sock.recv(100)  # b"" once the hub drops us


@pytest.mark.parametrize("request_bytes", [
    b"8:1:a,-4:,,",  # negative inner length (froze the hub at 100% CPU before)
    b"-9:",  # negative outer length
    b"99999999999999:",  # a length far over the limit
])
async def test_malformed_request_drops_that_client_and_the_hub_keeps_serving(hub: Hub, request_bytes: bytes) -> None:
    assert _send_raw(hub.socket, request_bytes) == b""
    hub.log.wait_for(r"command socket: dropped a client that sent a malformed request")
    ws = await client(hub)  # handshakes still served
    assert (await subscribe(ws, "news"))["event"] == "subscribed"
    result = hub.php("broadcast('news', 'still here');")
    assert result.returncode == 0, result.stderr
    assert (await recv_json(ws))["data"] == "still here"
    await ws.close()


async def test_a_request_without_an_event_name_is_still_served(hub: Hub) -> None:
    """An app process from before event names sends three fields: the hub takes it."""
    ws = await client(hub)
    await subscribe(ws, "news")
    assert _send_raw(hub.socket, wire.pack(wire.PUBLISH, "message", "news", "from an older app")) == wire.pack(wire.OK)
    assert announced(await recv_json(ws)) == {"event": "message", "channel": "news", "offset": 1,
                                              "data": "from an older app"}
    await ws.close()
