"""A TCP proxy that can cut its connections: the one fault here a real network can't produce on demand.

Runs its own asyncio loop on a thread (browser tests block on DevTools calls).
``cut()`` resets every proxied connection with no close frame, as a network
loss does; ``pause()`` makes new connections wait before reaching the target,
``resume()`` lets them through, to the current ``target`` (which may change:
another node behind a load balancer).
"""

from __future__ import annotations

import asyncio
import threading

from harness.processes import free_port


class CutProxy:
    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self._loop = asyncio.new_event_loop()
        self._open: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._passing = asyncio.Event()
        self._passing.set()
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._passing.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._open.difference_update((writer, up_writer))

    def _call(self, function) -> None:
        done = threading.Event()

        def run() -> None:
            function()
            done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(10)

    def cut(self) -> None:
        def abort_all() -> None:
            for writer in list(self._open):
                writer.transport.abort()  # RST: no close frame, no FIN
            self._open.clear()
        self._call(abort_all)

    def pause(self) -> None:
        self._call(self._passing.clear)

    def resume(self) -> None:
        self._call(self._passing.set)

    def close(self) -> None:
        self.cut()
        self._call(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
