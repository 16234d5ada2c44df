"""The frame bypass: prepared frames go straight to the transport, so no extension may be in play."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from pybroadcast.peer import FramingError, Outbox, Peer


@pytest.mark.parametrize("compression, refused", [("deflate", True), (None, False)])
async def test_a_peer_refuses_a_connection_that_negotiated_an_extension(compression, refused: bool) -> None:
    outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def handler(connection) -> None:
        try:
            Peer(connection, "p1", "1", Outbox(asyncio.get_running_loop(), 1 << 20))
            outcome.set_result(None)
        except FramingError as exc:
            outcome.set_result(exc)

    async with serve(handler, "127.0.0.1", 0, compression=compression) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression="deflate"):
            error = await asyncio.wait_for(outcome, 10)
    if refused:
        assert isinstance(error, FramingError) and "PerMessageDeflate" in str(error)
    else:
        assert error is None
