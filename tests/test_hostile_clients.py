"""What a hostile or broken client can send, and what it gets (hardening)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket

import pytest
from websockets.exceptions import ConnectionClosed

from support import ORIGIN, Hub, ack, client, open_client, recv_json, subscribe


def masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def raw_exchange(hub: Hub, after_request: bytes = b"", user: str = "1", headers: str = f"Origin: {ORIGIN}\r\n",
                 until: bytes = b"") -> bytes:
    """Send an upgrade request and bytes right behind it in one write; what the hub answers,
    up to `until` (or until it closes)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /ws?user={user} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n").encode()
    with socket.create_connection(("127.0.0.1", hub.port), timeout=10) as sock:
        sock.sendall(request + after_request)
        data = b""
        while not (until and until in data) and (chunk := sock.recv(65536)):
            data += chunk
        return data


@pytest.mark.parametrize("frame", [
    '{"action": "subscribe", "channel": "\\ud800"}',
    '{"action": "subscribe", "channel": "ok\\udfff"}',
    '{"action": "\\ud800", "channel": "news"}',
    "[" * 20_000 + "]" * 20_000,
    '{"a":' * 10_000 + "1" + "}" * 10_000,
])
async def test_edge_case_frames_get_an_error_event_not_1011(hub: Hub, frame: str) -> None:
    ws = await client(hub)
    await ws.send(frame)
    event = await recv_json(ws)
    assert event["event"] == "error" and event["code"] in ("bad_channel", "bad_json", "unknown_action"), event
    assert ack(await subscribe(ws, "still-open")) == {"event": "subscribed", "channel": "still-open"}
    await ws.close()


def test_two_origin_headers_are_403_not_500(hub: Hub) -> None:
    answer = raw_exchange(hub, headers=f"Origin: {ORIGIN}\r\nOrigin: {ORIGIN}\r\n")
    assert answer.startswith(b"HTTP/1.1 403 "), answer[:80]
    assert not hub.log.matching(r"process_request failed|Traceback")


async def test_two_cookie_headers_reach_the_app_as_one_cookie_list(make_hub) -> None:
    hub = make_hub()
    ws = await open_client(hub, user=None, additional_headers=[("Cookie", "user=5"), ("Cookie", "theme=dark")])
    assert (await recv_json(ws))["user"] == "5"
    request = json.loads(hub.log.wait_for(r"HOOK authenticate (.*)")[0].group(1))
    assert request["headers"]["cookie"] == "user=5; theme=dark"
    assert request["cookies"] == {"user": "5", "theme": "dark"}
    await ws.close()


async def test_a_large_cookie_reaches_the_app_and_a_request_head_over_32_kib_gets_431_unasked(make_hub) -> None:
    hub = make_hub()
    cookie = "session=" + "s" * 8000  # a browser's cookie header as nginx's default takes it (one 8 KiB line)
    ws = await open_client(hub, user=None, additional_headers=[("Cookie", f"user=5; {cookie}")] * 3)
    assert (await recv_json(ws))["user"] == "5"
    await ws.close()
    answer = raw_exchange(hub, user="6", headers=f"Origin: {ORIGIN}\r\n" + f"Cookie: {cookie}\r\n" * 5)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    assert len(hub.log.matching(r"HOOK authenticate")) == 1  # the first client's only: PHP never saw the second


def test_a_ping_sent_with_the_request_is_answered_after_the_101(hub: Hub) -> None:
    answer = raw_exchange(hub, masked(0x9, b"early"), until=b"\x8a\x05early")
    assert answer.startswith(b"HTTP/1.1 101 "), answer[:80]
    assert b"\x8a\x05early" in answer.partition(b"\r\n\r\n")[2]  # the pong, after the response


def test_a_close_frame_sent_with_a_refused_request_still_gets_the_401(hub: Hub) -> None:
    answer = raw_exchange(hub, masked(0x8, b"\x03\xe8"), user="")
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:80]
    assert not hub.log.matching(r"AssertionError|Traceback")


def test_a_frame_sent_with_the_request_is_served_after_the_upgrade(hub: Hub) -> None:
    answer = raw_exchange(hub, masked(0x1, b'{"action":"subscribe","channel":"early"}'), until=b'"offset":0}')
    head, _, frames = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    assert b'"event":"connected"' in frames and b'{"event":"subscribed","channel":"early","epoch":' in frames


async def test_channels_per_connection_are_capped_and_the_connection_kept(make_hub) -> None:
    hub = make_hub({"options": {"max_channels": 3}})
    ws = await client(hub)
    for name in ("a", "b", "c"):
        assert (await subscribe(ws, name))["event"] == "subscribed"
    event = await subscribe(ws, "d")
    assert event["event"] == "error" and event["code"] == "too_many_channels" and event["channel"] == "d", event
    assert (await subscribe(ws, "a"))["event"] == "subscribed"  # already in: not a new channel
    await ws.send(json.dumps({"action": "unsubscribe", "channel": "a"}))
    await recv_json(ws)
    assert (await subscribe(ws, "d"))["event"] == "subscribed"
    await ws.close()


async def test_a_frame_flood_closes_that_connection_with_1008_and_others_are_served(make_hub) -> None:
    hub = make_hub({"options": {"max_frame_rate": 20}})
    bystander = await client(hub, "2")
    await subscribe(bystander, "news")
    flooder = await client(hub, "3")
    with pytest.raises(ConnectionClosed):
        for _ in range(2000):  # pings count like any frame
            await flooder.ping()
        await asyncio.wait_for(flooder.recv(), 10)
    await flooder.wait_closed()
    assert flooder.close_code == 1008, flooder.close_code
    hub.log.wait_for(r"closing a connection from 127\.0\.0\.1 with 1008: over 20 frames/s")
    assert hub.php("broadcast('news', 'still served');").returncode == 0
    assert (await recv_json(bystander))["data"] == "still served"
    await bystander.close()


async def test_a_client_within_the_frame_rate_is_not_closed(make_hub) -> None:
    hub = make_hub({"options": {"max_frame_rate": 20, "max_channels": 1000}})
    ws = await client(hub)
    for i in range(30):  # a burst of up to 2 s worth is allowed
        assert (await subscribe(ws, f"c{i}"))["event"] == "subscribed"
    await ws.close()
