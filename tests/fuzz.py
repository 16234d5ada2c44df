"""A seeded fuzzer for a running hub: HTTP upgrade, WebSocket frames, JSON actions, command socket.

    python tests/fuzz.py --cases 100000 --seed 1      (make fuzz)

Every case is sent on a real socket to a real hub (started here with the built
extension). A case fails when the hub dies (crash), does not answer in time
(hang: a request with no response, a frame followed by a ping with no pong, a
JSON action with no event), answers 5xx, or closes a connection with 1011; a
traceback in the hub's log fails the run too. Prints one table and exits non-zero
on any failure. ``tests/test_fuzz.py`` runs a seeded sample of it in ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import struct
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)), os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]

from support import ORIGIN, Hub  # noqa: E402

TIMEOUT = 5.0  # seconds an answer may take before the case counts as a hang
WORKERS = 8
GIVE_UP_AFTER = 50  # hangs: past that the hub is wedged and every further case would wait out TIMEOUT


@dataclass
class Report:
    cases: dict[str, int] = field(default_factory=dict)
    crashes: int = 0
    hangs: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    internal_closes: list[str] = field(default_factory=list)  # 1011
    tracebacks: int = 0

    def count(self, target: str) -> None:
        self.cases[target] = self.cases.get(target, 0) + 1

    @property
    def wedged(self) -> bool:
        return len(self.hangs) >= GIVE_UP_AFTER

    @property
    def failed(self) -> bool:
        return bool(self.crashes or self.hangs or self.server_errors or self.internal_closes or self.tracebacks)

    def table(self) -> str:
        rows = [f"{target:<16} {n:>8}" for target, n in sorted(self.cases.items())]
        rows.append(f"{'cases':<16} {sum(self.cases.values()):>8}")
        rows += [f"{'crashes':<16} {self.crashes:>8}", f"{'hangs':<16} {len(self.hangs):>8}",
                 f"{'5xx':<16} {len(self.server_errors):>8}", f"{'1011':<16} {len(self.internal_closes):>8}",
                 f"{'tracebacks':<16} {self.tracebacks:>8}"]
        for name, examples in (("hang", self.hangs), ("5xx", self.server_errors), ("1011", self.internal_closes)):
            rows += [f"  {name}: {example}" for example in examples[:5]]
        return "\n".join(rows)


# --- a minimal WebSocket client: the fuzzer must be able to send what a good client never would ---

def request_head(path: str = "/ws?user=1", extra: str = "") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {ORIGIN}\r\n{extra}\r\n").encode("utf-8", "surrogatepass")


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True, rsv: int = 0) -> bytes:
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class Closed(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One server frame (opcode, payload); Closed(code) on a close frame or EOF."""
    try:
        b0, b1 = await reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await reader.readexactly(8))[0]
        payload = await reader.readexactly(n)
    except (asyncio.IncompleteReadError, ConnectionError):
        raise Closed(None) from None
    opcode = b0 & 0x0F
    if opcode == 0x8:
        raise Closed(struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None)
    return opcode, payload


class Socket:
    """An upgraded connection, or the HTTP answer when the upgrade was refused."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, hub: Hub, head: bytes | None = None) -> tuple[Socket, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", hub.port)
        writer.write(head or request_head())
        status = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        return cls(reader, writer), status

    async def read(self) -> tuple[int, bytes]:
        """The next frame; the hub's keepalive pings are answered, as every client must
        (unanswered, the hub drops the connection with 1011 after 2 × ping_interval)."""
        while True:
            opcode, payload = await asyncio.wait_for(read_frame(self.reader), TIMEOUT)
            if opcode != 0x9:
                return opcode, payload
            self.writer.write(frame(0xA, payload))

    async def next_event(self) -> dict[str, Any]:
        while True:
            opcode, payload = await self.read()
            if opcode == 0x1:
                return json.loads(payload)

    async def ping_pong(self, token: bytes) -> None:
        self.writer.write(frame(0x9, token))
        while True:
            opcode, payload = await self.read()
            if opcode == 0xA and payload == token:
                return

    def close(self) -> None:
        self.writer.close()


# --- generators of hostile input ----------------------------------------------------

JUNK = ["", " ", "\x00", "\r\n", "é", "\ud800", "🎉", "\\", '"', "%00", "../", "a" * 300, "\t", ":", ";", ","]


def mutate_bytes(rng: random.Random, data: bytes, rounds: int = 3) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, rounds)):
        if not out:
            out += bytes([rng.randrange(256)])
            continue
        i = rng.randrange(len(out))
        choice = rng.random()
        if choice < 0.35:
            out[i] = rng.randrange(256)
        elif choice < 0.6:
            out[i:i] = rng.choice([b"\r\n", b":", b"\x00", b" ", b"\xff\xfe", b"-1", b"99999999999", os.urandom(4)])
        elif choice < 0.8:
            del out[i:i + rng.randint(1, 8)]
        else:
            out[i:i] = out[max(0, i - 16):i]
    return bytes(out)


def http_case(rng: random.Random) -> bytes:
    headers = [("Origin", ORIGIN), ("Cookie", "user=1")]
    for _ in range(rng.randint(0, 4)):
        name = rng.choice(["Origin", "Cookie", "Host", "Upgrade", "Connection", "Sec-WebSocket-Version",
                           "Sec-WebSocket-Key", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol",
                           "Authorization", "X-" + rng.choice(JUNK)])
        headers.append((name, rng.choice(JUNK + [ORIGIN, "websocket", "13", "8", "permessage-deflate"])))
    path = rng.choice(["/ws", "/ws?user=1", "/health", "/", "/app/key", "/ws?" + rng.choice(JUNK), "*", "//ws",
                       f"/app/{PUSHER_KEY}?protocol=7", "/app/", "/apps/1/events?auth_key=" + PUSHER_KEY,
                       "/apps/1/channels", "/apps/1/channels/x/users", "/users/1/terminate_connections"])
    extra = "".join(f"{n}: {v}\r\n" for n, v in headers)
    head = request_head(path, extra)
    if path.startswith(("/apps/", "/users/")) and rng.random() < 0.6:  # the HTTP API: a POST with a body
        body = rng.choice([b"{}", b'{"name":"x","data":"y","channels":["a"]}', b"[" * 5000, os.urandom(40), b""])
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {rng.choice([len(body), 0, 99999, -1])}"
                f"\r\n\r\n").encode() + body
    if rng.random() < 0.6:
        head = mutate_bytes(rng, head)
    if rng.random() < 0.2:
        head += rng.choice([frame(0x9, b"x"), frame(0x8, b"\x03\xe8"), b"junk", frame(0x1, b"{}")])
    return head


def frame_case(rng: random.Random) -> tuple[bytes, bool]:
    """(bytes, whether they are whole frames the hub must answer a ping after)."""
    opcode = rng.choice([0x0, 0x1, 0x2, 0x3, 0x7, 0x8, 0x9, 0xA, 0xB, 0xF])
    # Close codes 1000 and 4000, never 1011: the hub echoes a client's close code, as RFC 6455 says.
    payload = rng.choice([b"", b"{}", os.urandom(rng.randint(0, 200)), b"\xff\xfe", "é".encode() * 50,
                          b"\x03\xe8", b"\x0f\xa0bye", b"\x00\x00", b"x" * 130])
    data = frame(opcode, payload, fin=rng.random() < 0.8, mask=rng.random() < 0.9, rsv=rng.choice([0, 0, 0, 1, 4, 7]))
    if rng.random() < 0.4:
        return mutate_bytes(rng, data, 2), False
    if rng.random() < 0.1:  # a length that promises more than comes
        return bytes([0x81, 0xFF]) + struct.pack("!Q", rng.choice([1 << 20, 1 << 62, 200])) + os.urandom(4), False
    return data, True


def json_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.random()
    if depth > 3 or kind < 0.3:
        return rng.choice([None, True, False, 0, -1, 1.5, 1e308, 2 ** 70, "", "news", "private-x", "presence-y",
                           "a" * 201, "\ud800", "é", "🎉", "a b", "subscribe", "unsubscribe"])
    if kind < 0.6:
        return [json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["action", "channel", "since", "x", ""]): json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def json_case(rng: random.Random) -> str:
    body: Any = {"action": rng.choice(["subscribe", "unsubscribe", "SUBSCRIBE", "dance", ""]),
                 "channel": rng.choice(["news", "private-x", "presence-y", "", "a" * 201, "ok:" + str(rng.randrange(50))])}
    for _ in range(rng.randint(0, 3)):
        body[rng.choice(["action", "channel", "since", "extra"])] = json_value(rng)
    if rng.random() < 0.3:  # recovery: plausible and implausible positions
        body["since"] = {"epoch": rng.choice(["", "0123456789abcdef", "e" * 65, "\ud800", json_value(rng)]),
                         "offset": rng.choice([0, 1, 5, -1, 2 ** 63, 2 ** 64, 1.5, "1", True, None, json_value(rng)])}
    if rng.random() < 0.2:
        body = json_value(rng)
    text = json.dumps(body)
    if rng.random() < 0.3:
        text = mutate_bytes(rng, text.encode(), 2).decode("utf-8", "replace")
    if rng.random() < 0.05:
        text = "[" * rng.randint(100, 30_000) + "]" * rng.randint(0, 30_000)
    return text


def pusher_case(rng: random.Random) -> str:
    """A Pusher protocol frame: mostly well-formed envelopes with hostile contents."""
    event = rng.choice(["pusher:subscribe", "pusher:unsubscribe", "pusher:signin", "pusher:ping", "pusher:pong",
                        "client-typing", "pusher:nope", "", "client-" + rng.choice(JUNK)])
    data: Any = json_value(rng)
    if rng.random() < 0.6:
        data = {"channel": rng.choice(["news", "private-x", "presence-y", "#server-to-user-1", "", "a" * 300,
                                       "presence-" + rng.choice(JUNK)]),
                "auth": rng.choice(["", f"{PUSHER_KEY}:" + "0" * 64, "x:y", ":", json_value(rng)]),
                "channel_data": rng.choice(['{"user_id":"1"}', '{"user_id":[1]}', "{", json_value(rng)]),
                "user_data": rng.choice(['{"id":"1"}', "[", json_value(rng)])}
    if rng.random() < 0.2:
        data = json.dumps(data)  # older clients send data as a string
    body: Any = {"event": event, "data": data}
    if rng.random() < 0.3:
        body["channel"] = rng.choice(["private-x", "presence-y", json_value(rng)])
    if rng.random() < 0.1:
        body = json_value(rng)
    text = json.dumps(body)
    if rng.random() < 0.2:
        text = mutate_bytes(rng, text.encode(), 2).decode("utf-8", "replace")
    return text


def command_case(rng: random.Random) -> bytes:
    def netstring(data: bytes) -> bytes:
        return b"%d:%s," % (len(data), data)

    fields = [rng.choice([b"publish", b"members", b"history", b"", b"nope"])]
    fields += [rng.choice([b"message", b"direct", b"disconnect", b"join", b"news", b"\xff", b"1", b"a" * 300,
                           b"0", b"10000", b"10001", b"-1", b"99999999999999999999"])
               for _ in range(rng.randint(0, 4))]
    inner = b"".join(netstring(f) for f in fields)
    if rng.random() < 0.3:  # crafted lengths: negative, off by one, huge, not digits
        inner += b"%s:%s," % (rng.choice([b"-%d" % rng.randint(1, 12), b"%d" % rng.choice([0, 1, 2 ** 31, 2 ** 64]),
                                          b"+1", b" 1", b"1_0", b""]), rng.choice([b"", b"a", b",", b"1:a,"]))
    data = netstring(inner)
    if rng.random() < 0.5:
        data = mutate_bytes(rng, data)
    return data


# --- running cases --------------------------------------------------------------------

class Fuzzer:
    def __init__(self, hub: Hub, seed: int) -> None:
        self.hub = hub
        self.seed = seed
        self.report = Report()

    async def run(self, cases: int) -> Report:
        plan = [("http", cases * 2 // 10), ("frames", cases * 25 // 100), ("json", cases * 3 // 10),
                ("pusher", cases * 15 // 100)]
        plan.append(("command_socket", cases - sum(n for _, n in plan)))
        for target, count in plan:
            runner: Callable[[random.Random, int], Awaitable[None]] = getattr(self, f"_{target}")
            shares = [count // WORKERS + (1 if i < count % WORKERS else 0) for i in range(WORKERS)]
            await asyncio.gather(*(runner(random.Random(f"{self.seed}-{target}-{i}"), n)
                                   for i, n in enumerate(shares) if n))
            if self.hub.process.poll() is not None:
                self.report.crashes += 1
                break
            if self.report.wedged:
                self.report.hangs.append(f"gave up after {GIVE_UP_AFTER} hangs: the hub is wedged")
                break
            await self._still_serving(target)
        self.report.tracebacks = len(self.hub.log.matching(r"Traceback"))
        return self.report

    async def _still_serving(self, after: str) -> None:
        try:
            sock, status = await Socket.open(self.hub)
            assert status.startswith(b"HTTP/1.1 101"), status
            await sock.next_event()
            await sock.ping_pong(b"alive")
            sock.close()
        except Exception as exc:  # noqa: BLE001 - any failure here is the finding
            self.report.hangs.append(f"hub not serving after the {after} cases: {type(exc).__name__}: {exc}")

    async def _http(self, rng: random.Random, count: int) -> None:
        for _ in range(count):
            if self.report.wedged:
                return
            head = http_case(rng)
            self.report.count("http")
            reader = writer = None
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.hub.port)
                writer.write(head)
                if b"\r\n\r\n" not in head or head.startswith(b"POST "):
                    writer.write_eof()  # maybe unfinished (a head, or a body shorter than announced): the
                    # hub may wait for the rest, as HTTP allows, until the handshake timeout
                answer = await asyncio.wait_for(reader.read(4096), TIMEOUT)
                if answer.startswith(b"HTTP/1.1 5"):
                    status = answer.split(b"\r\n")[0]
                    self.report.server_errors.append(f"{status!r} for {head[:120]!r}")
                elif answer.startswith(b"HTTP/1.1 101"):
                    await self._expect_no_1011(reader, head)
            except asyncio.TimeoutError:
                self.report.hangs.append(f"no answer to {head[:120]!r}")
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                if writer is not None:
                    writer.close()

    async def _expect_no_1011(self, reader: asyncio.StreamReader, case: Any, wait: float = 0.05) -> None:
        try:
            while True:
                await asyncio.wait_for(read_frame(reader), wait)
        except Closed as closed:
            if closed.code == 1011:
                self.report.internal_closes.append(repr(case)[:160])
        except asyncio.TimeoutError:
            pass

    async def _frames(self, rng: random.Random, count: int) -> None:
        async def exchange(sock: Socket, case: tuple[bytes, bool], n: int) -> bool:
            data, whole = case
            sock.writer.write(data)
            if whole:
                await sock.ping_pong(b"probe-%d" % n)
                return True
            # Maybe a frame still missing bytes: the hub rightly waits for them.
            sock.writer.write_eof()
            await self._expect_no_1011(sock.reader, data, wait=TIMEOUT)
            return False

        await self._on_connections("frames", count, lambda: frame_case(rng), exchange)

    async def _json(self, rng: random.Random, count: int) -> None:
        async def exchange(sock: Socket, text: str, n: int) -> bool:
            sock.writer.write(frame(0x1, text.encode("utf-8", "surrogatepass")))
            event = await sock.next_event()
            if event.get("event") not in ("error", "subscribed", "unsubscribed"):
                self.report.hangs.append(f"unexpected answer {event} to {text[:120]!r}")
            return True

        await self._on_connections("json", count, lambda: json_case(rng), exchange)

    async def _pusher(self, rng: random.Random, count: int) -> None:
        """Pusher frames on /app/{key}: every frame gets an answer or none, never a 1011 or a hang
        (checked with a pusher:ping after each, which must get its pusher:pong)."""
        async def exchange(sock: Socket, text: str, n: int) -> bool:
            sock.writer.write(frame(0x1, text.encode("utf-8", "surrogatepass")))
            sock.writer.write(frame(0x1, b'{"event":"pusher:ping","data":{}}'))
            while (event := await sock.next_event()).get("event") != "pusher:pong":
                pass
            return True

        await self._on_connections("pusher", count, lambda: pusher_case(rng), exchange,
                                   head=request_head(f"/app/{PUSHER_KEY}?protocol=7"))

    async def _on_connections(self, target: str, count: int, next_case: Callable[[], Any],
                              exchange: Callable[[Socket, Any, int], Awaitable[bool]], head: bytes | None = None) -> None:
        """Cases one after another on an upgraded connection, opened again whenever it ends.

        `exchange` sends a case and checks the answer; it returns whether the connection goes on.
        """
        sock: Socket | None = None
        for n in range(count):
            if self.report.wedged:
                break
            case = next_case()
            self.report.count(target)
            try:
                if sock is None:
                    sock, _ = await Socket.open(self.hub, head)
                    await sock.next_event()
                if not await exchange(sock, case, n):
                    sock.close()
                    sock = None
            except Closed as closed:
                if closed.code == 1011:
                    self.report.internal_closes.append(repr(case)[:160])
                sock = None
            except asyncio.TimeoutError:
                self.report.hangs.append(f"no answer to {repr(case)[:120]}")
                if sock is not None:
                    sock.close()
                sock = None
            except (OSError, asyncio.IncompleteReadError):
                sock = None
        if sock is not None:
            sock.close()

    async def _command_socket(self, rng: random.Random, count: int) -> None:
        for _ in range(count):
            if self.report.wedged:
                return
            data = command_case(rng)
            self.report.count("command_socket")
            writer = None
            try:
                reader, writer = await asyncio.open_unix_connection(self.hub.socket)
                writer.write(data)
                writer.write_eof()
                await asyncio.wait_for(reader.read(), TIMEOUT)  # an answer or a drop, never silence
            except asyncio.TimeoutError:
                self.report.hangs.append(f"command socket silent after {data[:120]!r}")
            except OSError:
                pass
            finally:
                if writer is not None:
                    writer.close()


PUSHER_KEY = "fuzz-key"


def fuzz_hub() -> Hub:
    """A hub with the Pusher endpoint and HTTP API on, whose limits do not cut the
    fuzzer short (the limits have tests of their own)."""
    return Hub({"options": {"max_frame_rate": 1_000_000, "max_channels": 1_000_000, "pusher_app_id": "1",
                            "pusher_key": PUSHER_KEY, "pusher_secret": "fuzz-secret"}})


async def fuzz(cases: int, seed: int) -> Report:
    hub = fuzz_hub()
    try:
        return await Fuzzer(hub, seed).run(cases)
    finally:
        hub.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    report = asyncio.run(fuzz(args.cases, args.seed))
    print(f"fuzz: seed {args.seed}, {time.monotonic() - started:.0f} s")
    print(report.table())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
