"""The hub process: shutdown on signals, slow clients, keepalive."""

from __future__ import annotations

import asyncio
import os
import signal
import socket

import pytest
from websockets.exceptions import ConnectionClosed

from support import Hub, client, next_event, raw_client, subscribe


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signal_closes_clients_with_1001_and_exits_0(hub: Hub, sig: int) -> None:
    clients = [await client(hub, user=str(i)) for i in range(3)]
    for ws in clients:
        await subscribe(ws, "news")
    hub.process.send_signal(sig)
    for ws in clients:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 1001
    assert await asyncio.to_thread(hub.process.wait, 20) == 0
    assert hub.log.matching("RUN RETURNED"), "run() did not return"
    assert not os.path.exists(hub.socket), "the command socket was left behind"


def test_command_socket_is_owner_and_group_only(hub: Hub) -> None:
    import stat
    mode = os.stat(hub.socket).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660, oct(mode)


def test_second_hub_on_the_same_socket_is_refused(hub: Hub) -> None:
    from support import Hub as HubProcess
    with pytest.raises(AssertionError, match="another hub is already serving the command socket"):
        HubProcess({"options": {"socket": hub.socket}})


def test_port_in_use_is_a_clear_exception(hub: Hub) -> None:
    result = hub.php(
        f"try {{ (new PyBroadcast\\Server(['listen' => '127.0.0.1:{hub.port}', 'socket' => '{hub.socket}2']))->run(); }}"
        " catch (PyBroadcast\\Exception $e) { echo $e->getMessage(); }")
    assert f"cannot listen on 127.0.0.1:{hub.port}" in result.stdout, result.stdout + result.stderr


async def test_slow_client_is_closed_and_others_are_not_delayed(hub: Hub) -> None:
    fast = await client(hub, user="fast")
    await subscribe(fast, "firehose")
    slow = raw_client(hub, "slow", "firehose", rcvbuf=4096)
    hub.log.wait_for(r"join user=slow channel=firehose")
    # Rounds of 600 KB that the fast client keeps up with; 30 rounds (18 MB) are
    # far past the slow client's 1 MiB outbound bound plus its kernel buffers.
    for _ in range(30):
        hub.php("$m = str_repeat('x', 60000); for ($i = 0; $i < 10; $i++) broadcast('firehose', $m);")
        for _ in range(10):
            assert len((await next_event(fast, "message"))["data"]) == 60000
        if hub.log.matching(r"closing slow client"):
            break
    hub.log.wait_for(r"closing slow client connection=\S+ user=slow")
    hub.log.wait_for(r"leave user=slow channel=firehose")
    assert not hub.log.matching(r"closing slow client .* user=fast")
    slow.close()
    await fast.close()


def _read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """(opcode, payload) of one unmasked server frame."""
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "the hub closed the connection"
            data += chunk
        return data

    first, second = exactly(2)
    length = second & 0x7F
    if length >= 126:
        length = int.from_bytes(exactly(2 if length == 126 else 8), "big")
    return first & 0x0F, exactly(length)


def test_a_client_that_answers_pings_is_kept(make_hub) -> None:
    """The hub's one keepalive timer pings every connection each ping_interval; a client that answers
    every ping stays (and still gets messages) while a silent one beside it is dropped."""
    hub = make_hub({"options": {"ping_interval": 0.3}})
    silent = raw_client(hub, "9", "room")
    talker = raw_client(hub, "8", "room")
    talker.settimeout(10)

    def next_message() -> bytes:
        """The talker's next text frame, answering every ping on the way; counts the pings."""
        nonlocal pings
        while True:
            opcode, payload = _read_frame(talker)
            if opcode == 0x1:
                return payload
            if opcode == 0x9:  # ping -> pong with the same payload, masked
                mask = os.urandom(4)
                talker.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask
                               + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
                pings += 1

    pings = 0
    while not hub.log.matching(r"disconnected user=9 .* code=1006"):  # the silent one: 2 rounds + close timeout
        assert hub.php("broadcast('room', 'tick');").returncode == 0
        while b"tick" not in next_message():  # (answering pings meanwhile)
            pass
    assert hub.php("broadcast('room', 'still here');").returncode == 0
    while b"still here" not in next_message():
        pass
    assert pings >= 4, pings  # it was pinged (and answered) throughout
    assert not hub.log.matching(r"no pong .* user=8|disconnected user=8")
    silent.close()
    talker.close()


async def test_unresponsive_client_is_dropped_by_keepalive(make_hub) -> None:
    hub = make_hub({"options": {"ping_interval": 0.5}})
    silent = raw_client(hub, "9", "room")
    hub.log.wait_for(r"join user=9 channel=room")
    hub.log.wait_for(r"HOOK leave 9 room", timeout=15)
    # The client's socket is still open: only the keepalive can have ended it
    # (no close frame came back, hence 1006).
    hub.log.wait_for(r"disconnected user=9 .* code=1006")
    silent.close()
