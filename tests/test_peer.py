"""The frame bypass: prepared frames go straight to the transport, so no extension may be in play."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from pybroadcast.dialects import json_frame
from pybroadcast.peer import Outbox, Peer
from support import Taker, listening


async def test_a_client_offering_compression_gets_none_and_prepared_frames_arrive_whole() -> None:
    taker = Taker()
    listener = await listening(taker)
    port = listener.sockets[0].getsockname()[1]
    async with connect(f"ws://127.0.0.1:{port}", compression="deflate") as ws:
        connection = await asyncio.wait_for(taker.taken.get(), 10)
        assert ws.protocol.extensions == [] and connection.protocol.extensions == []
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        peer = Peer(connection, "p1", "1", Outbox(asyncio.get_running_loop(), 1 << 20))
        peer.send(json_frame({"n": "x" * 300}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"n": "x" * 300}
    await listener.close()
