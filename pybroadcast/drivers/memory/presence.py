"""Presence held in this process; contract in :class:`pybroadcast.drivers.presence.Presence`."""

from __future__ import annotations

from ..presence import Presence


class MemoryPresence(Presence):
    def __init__(self) -> None:
        # channel -> user -> that user's connections in the channel
        self._channels: dict[str, dict[str, set[str]]] = {}

    async def join(self, channel: str, user: str, connection: str) -> bool:
        users = self._channels.setdefault(channel, {})
        connections = users.get(user)
        if connections is None:
            users[user] = {connection}
            return True
        connections.add(connection)
        return False

    async def leave(self, channel: str, user: str, connection: str) -> bool:
        users = self._channels.get(channel)
        connections = users.get(user) if users else None
        if connections is None or connection not in connections:
            return False
        connections.discard(connection)
        if connections:
            return False
        del users[user]
        if not users:
            del self._channels[channel]
        return True

    async def members(self, channel: str) -> list[str]:
        return list(self._channels.get(channel, ()))
