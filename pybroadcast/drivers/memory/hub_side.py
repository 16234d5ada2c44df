"""The memory driver in a hub process: in-process broker, presence and history, and the command socket."""

from __future__ import annotations

from ...events import Event
from ...settings import Settings
from ..history import Page
from ..hub_side import HubDriver, HubPort
from .broker import MemoryBroker
from .command_server import CommandServer
from .history import MemoryHistory
from .presence import MemoryPresence


class MemoryHubDriver(HubDriver):
    """Contract in :class:`pybroadcast.drivers.hub_side.HubDriver`.

    Its command socket talks to the broker, presence and history directly (as the hub
    would: they are all in this process, and synchronous), through the ``*_now`` methods."""

    def __init__(self, settings: Settings) -> None:
        self.history = MemoryHistory(settings.history_size, settings.history_ttl) if settings.history_size else None
        self.broker = MemoryBroker(self.history)
        self.presence = MemoryPresence()
        self._settings = settings
        self._command: CommandServer | None = None

    async def start_serving(self, hub: HubPort) -> None:
        settings = self._settings
        self._command = CommandServer(self, settings.socket_path, settings.max_message_size, not settings.socket)
        await self._command.start()

    def publish_now(self, event: Event) -> None:
        self.broker.publish_now(event)

    def members_now(self, channel: str) -> list[str]:
        return self.presence.members_now(channel)

    def history_now(self, channel: str, limit: int) -> Page | None:
        return self.history.read_now(channel, None, limit) if self.history is not None else None

    async def stop_serving(self) -> None:
        if self._command is not None:
            await self._command.close()

    async def close(self) -> None:
        await self.presence.close()
        await self.broker.close()

    def abandon(self) -> None:
        if self._command is not None:
            self._command.unlink()  # app calls then name a dead hub, not a wedged one
