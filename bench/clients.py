"""Load-generating WebSocket clients: lean asyncio protocols, one process per core share.

Most clients only count bytes (every benchmark message has the same size, so
bytes / frame size = messages); "probe" clients, every n-th of a process's, parse every
frame to measure publish-to-receive latency from the timestamp in the message. Spread,
not the first n: the hub writes to a channel's subscribers in the order of its set of
peers, which follows their allocation, so the first n connected are written to in a row.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from typing import Any

HANDSHAKE = ("GET {path} HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://bench\r\n\r\n")
PUSHER_KEY = "bench-key"


def dialect_path(dialect: str, user: str) -> str:
    return f"/app/{PUSHER_KEY}?protocol=7" if dialect == "pusher" else f"/ws?user={user}"


def subscribe_frame(dialect: str, channel: str) -> bytes:
    if dialect == "pusher":
        return json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}).encode()
    return json.dumps({"action": "subscribe", "channel": channel}).encode()


def masked_text(payload: bytes) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


def frames(buf: bytes) -> list[tuple[bytes, int]]:
    """The whole unmasked frames at the start of `buf` (the hub's are < 64 KiB): (payload, where it ends)."""
    found = []
    pos = 0
    while len(buf) - pos >= 2:
        length = buf[pos + 1] & 0x7F
        head = 2
        if length == 126:
            if len(buf) - pos < 4:
                break
            length, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
        if len(buf) - pos < head + length:
            break
        pos += head + length
        found.append((buf[pos - length:pos], pos))
    return found


SUBSCRIBED = (b'"subscribed"', b"pusher_internal:subscription_succeeded")


class Client(asyncio.Protocol):
    def __init__(self, user: str, channel: str, probe: bool, ready: asyncio.Future[None], dialect: str = "native") -> None:
        """`ready`: set once upgraded; `subscribed`: once the hub confirmed the subscription. Bytes
        are counted from there on (what came before is not the benchmark's)."""
        self.user, self.channel, self.probe, self.ready, self.dialect = user, channel, probe, ready, dialect
        self.subscribed: asyncio.Future[None] = ready.get_loop().create_future()
        self.buffer = b""
        self.upgraded = False
        self.bytes = 0
        self.latencies: list[tuple[float, float]] = []  # (published, received)
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(HANDSHAKE.format(path=dialect_path(self.dialect, self.user),
                                         key=base64.b64encode(os.urandom(16)).decode()).encode())

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            self.buffer += data
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(RuntimeError(head.decode(errors="replace")))
                return
            self.upgraded = True
            self.buffer = b""
            payload = subscribe_frame(self.dialect, self.channel)
            self.transport.write(masked_text(payload))
            self.ready.set_result(None)
            data = rest
        if not self.subscribed.done():
            data = self.buffer + data
            for payload, end in frames(data):
                if any(marker in payload for marker in SUBSCRIBED):
                    self.subscribed.set_result(None)
                    self.buffer, data = b"", data[end:]
                    break
            else:
                self.buffer = data
                return
        self.bytes += len(data)
        if self.probe:
            self._parse(data)

    def _parse(self, data: bytes) -> None:
        now = time.time()
        buf = self.buffer + data
        end = 0
        for payload, end in frames(buf):
            marker = payload.find(b'"data":"t=')
            if marker >= 0:
                sent = float(payload[marker + 10:marker + 27])
                self.latencies.append((sent, now))
        self.buffer = buf[end:]


async def run_clients(port: int, count: int, probes: int, channel: str, source: str, control: Any, index: int,
                      dialect: str = "native") -> None:
    """Connect `count` subscribers, then answer each "report" on `control` with what arrived since the last."""
    loop = asyncio.get_running_loop()
    clients = []
    for i in range(count):
        ready: asyncio.Future[None] = loop.create_future()
        probe = probes > 0 and i % max(1, count // probes) == 0
        client = Client(f"u{index}-{i}", channel, probe, ready, dialect)
        await loop.create_connection(lambda c=client: c, "127.0.0.1", port, local_addr=(source, 0))
        await ready
        clients.append(client)
    await asyncio.gather(*(client.subscribed for client in clients))
    control.send("connected")
    last_bytes, last_cpu = 0, time.process_time()
    while await asyncio.to_thread(control.recv) == "report":
        await asyncio.sleep(0)
        total = sum(c.bytes for c in clients)
        cpu = time.process_time()
        latencies = [lat for c in clients for lat in c.latencies]
        for c in clients:
            c.latencies.clear()
        control.send({"bytes": total - last_bytes, "latencies": latencies, "cpu": cpu - last_cpu})
        last_bytes, last_cpu = total, cpu
    for c in clients:
        c.transport.abort()


def worker(port: int, count: int, probes: int, channel: str, source: str, control: Any, index: int,
           cpus: set[int], dialect: str = "native") -> None:
    import uvloop  # the load generator's loop only; the hub runs stock asyncio

    os.sched_setaffinity(0, cpus)
    uvloop.run(run_clients(port, count, probes, channel, source, control, index, dialect))
