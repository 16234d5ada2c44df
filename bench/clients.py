"""Load-generating WebSocket clients: lean asyncio protocols, several per process.

Most clients only count bytes (every benchmark message has the same size, so
bytes / frame size = messages); "probe" clients parse every frame to measure
publish-to-receive latency from the timestamp in the message. Probes live in a process of
their own: one that also reads 10,000 other sockets reaches a probe when its turn comes,
~25-35 ms after the hub wrote to it at worst (measured), and real subscribers do not wait for
each other. bench.run connects them in between the others so that they are spread over
the hub's sweep: it writes to a channel's subscribers in the order of its set of peers,
which follows their allocation, so clients connected in a row are written to in a row.
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


async def run_clients(port: int, probing: bool, channel: str, source: str, control: Any, index: int,
                      dialect: str = "native") -> None:
    """Answers commands on `control`: ("connect", n) connects and subscribes n more clients (probes if
    `probing`) and answers "connected"; "report": what arrived since the last; "stop"."""
    loop = asyncio.get_running_loop()
    clients: list[Client] = []
    last_bytes, last_cpu = 0, time.process_time()
    while True:
        command = await asyncio.to_thread(control.recv)
        if command == "report":
            await asyncio.sleep(0)
            total = sum(c.bytes for c in clients)
            cpu = time.process_time()
            latencies = [lat for c in clients for lat in c.latencies]
            for c in clients:
                c.latencies.clear()
            control.send({"bytes": total - last_bytes, "latencies": latencies, "cpu": cpu - last_cpu})
            last_bytes, last_cpu = total, cpu
        elif command == "stop":
            break
        else:  # ("connect", n)
            new = []
            for _ in range(command[1]):
                ready: asyncio.Future[None] = loop.create_future()
                client = Client(f"u{index}-{len(clients) + len(new)}", channel, probing, ready, dialect)
                await loop.create_connection(lambda c=client: c, "127.0.0.1", port, local_addr=(source, 0))
                await ready
                new.append(client)
            await asyncio.wait_for(asyncio.gather(*(client.subscribed for client in new)), 60)  # (else the bench fails)
            clients += new
            control.send("connected")
    for c in clients:
        c.transport.abort()


def worker(port: int, probing: bool, channel: str, source: str, control: Any, index: int,
           cpus: set[int], dialect: str = "native") -> None:
    import uvloop  # the load generator's loop only; the hub runs stock asyncio

    os.sched_setaffinity(0, cpus)
    uvloop.run(run_clients(port, probing, channel, source, control, index, dialect))
