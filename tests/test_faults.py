"""A hub on a bad day: PHP exiting inside a callback, its socket file deleted, descriptors exhausted."""

from __future__ import annotations

import os
import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from support import Hub, client, open_client, recv_json, subscribe


def _no_hub_message(hub: Hub) -> str:
    result = hub.php("try { broadcast('news', 'x'); } catch (PyBroadcast\\Exception $e) { echo $e->getMessage(); }")
    return result.stdout


async def test_exit_in_on_authenticate_stops_at_once_answers_503_and_cleans_up(make_hub) -> None:
    hub = make_hub({"authenticate": "return:exit(3)", "options": {"callback_timeout": 30}})
    with pytest.raises(InvalidStatus) as caught:
        await open_client(hub)
    assert caught.value.response.status_code == 503
    assert hub.process.wait(10) == 3  # not after callback_timeout (30 s): the call is abandoned
    assert not os.path.exists(hub.socket)
    assert "no hub is running: the socket file does not exist" in _no_hub_message(hub)


async def test_exit_in_on_authorize_closes_clients_with_1001_and_cleans_up(make_hub) -> None:
    hub = make_hub({"authorize": "return:exit(0)", "options": {"callback_timeout": 30}})
    other = await client(hub, "2")
    ws = await client(hub, "1")
    await ws.send('{"action": "subscribe", "channel": "private-x"}')
    with pytest.raises(ConnectionClosed):
        await recv_json(other, timeout=10)
    assert other.close_code == 1001
    assert hub.process.wait(10) == 0
    assert not os.path.exists(hub.socket)


async def test_a_deleted_socket_file_is_noticed_and_created_again(hub: Hub, make_hub) -> None:
    ws = await client(hub)
    await subscribe(ws, "news")
    os.unlink(hub.socket)
    hub.log.wait_for(rf"command socket {hub.socket} was deleted; created it again")
    assert hub.php("broadcast('news', 'after the delete');").returncode == 0
    assert (await recv_json(ws))["data"] == "after the delete"
    with pytest.raises(AssertionError, match="another hub is already serving the command socket"):
        make_hub({"options": {"socket": hub.socket}})
    await ws.close()


async def test_descriptor_exhaustion_logs_one_line_a_second_and_the_hub_recovers(make_hub) -> None:
    hub = make_hub(wrapper=["prlimit", "--nofile=64:64"])
    held: list[socket.socket] = []
    started = time.monotonic()
    for _ in range(200):  # far past 64 descriptors
        try:
            held.append(socket.create_connection(("127.0.0.1", hub.port), timeout=2))
        except OSError:
            pass
    hub.log.wait_for(r"out of system resource: OSError: \[Errno 24\]")
    hub.log.wait_for(r"out of system resource.*more like this since the last report", timeout=15)
    elapsed = time.monotonic() - started
    lines = hub.log.matching(r"out of system resource")
    assert len(lines) <= elapsed + 2, lines  # one a second (it was thousands, with tracebacks)
    assert not hub.log.matching(r"Traceback")
    for sock in held:
        sock.close()
    ws = await client(hub)  # serving again once descriptors are free
    assert (await subscribe(ws, "news"))["event"] == "subscribed"
    await ws.close()
