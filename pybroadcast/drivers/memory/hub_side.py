"""The memory driver in a hub process: in-process broker and presence, and the command socket."""

from __future__ import annotations

from ...settings import Settings
from ..hub_side import HubDriver, HubPort
from .broker import MemoryBroker
from .command_server import CommandServer
from .history import MemoryHistory
from .presence import MemoryPresence


class MemoryHubDriver(HubDriver):
    """Contract in :class:`pybroadcast.drivers.hub_side.HubDriver`."""

    def __init__(self, settings: Settings) -> None:
        self.history = MemoryHistory(settings.history_size, settings.history_ttl) if settings.history_size else None
        self.broker = MemoryBroker(self.history)
        self.presence = MemoryPresence()
        self._settings = settings
        self._command: CommandServer | None = None

    async def start_serving(self, hub: HubPort) -> None:
        settings = self._settings
        self._command = CommandServer(hub, settings.socket_path, settings.max_message_size, not settings.socket)
        await self._command.start()

    async def stop_serving(self) -> None:
        if self._command is not None:
            await self._command.close()

    async def close(self) -> None:
        await self.presence.close()
        await self.broker.close()

    def abandon(self) -> None:
        if self._command is not None:
            self._command.unlink()  # app calls then name a dead hub, not a wedged one
