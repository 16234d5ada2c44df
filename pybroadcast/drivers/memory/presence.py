"""Presence held in this process; contract in :class:`pybroadcast.drivers.presence.Presence`."""

from __future__ import annotations

from ..presence import Presence


class MemoryPresence(Presence):
    def __init__(self) -> None:
        # channel -> user -> that user's connections in the channel
        self._channels: dict[str, dict[str, set[str]]] = {}
        self._info: dict[str, dict[str, str]] = {}  # channel -> user -> user_info (JSON)

    async def join(self, channel: str, user: str, connection: str, info: str = "") -> bool:
        users = self._channels.setdefault(channel, {})
        if info:
            self._info.setdefault(channel, {})[user] = info
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
        infos = self._info.get(channel)
        if infos is not None:
            infos.pop(user, None)
        if not users:
            del self._channels[channel]
            self._info.pop(channel, None)
        return True

    async def members(self, channel: str) -> list[str]:
        return self.members_now(channel)

    def members_now(self, channel: str) -> list[str]:
        """``members``, for callers on the loop that cannot await (the command socket)."""
        return list(self._channels.get(channel, ()))

    async def members_info(self, channel: str) -> dict[str, str]:
        infos = self._info.get(channel, {})
        return {user: infos.get(user, "") for user in self._channels.get(channel, ())}

    async def channels(self) -> list[str]:
        return list(self._channels)
