"""The Presence interface: who is in which channel, across every node.

Implementations: each driver's ``presence`` module (``pybroadcast.drivers.<name>``).
``tests/test_presence_contract.py`` runs the same contract against every driver.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Awaitable, Callable

# on_change(kind, channel, user): kind is events.JOIN or events.LEAVE
ChangeCallback = Callable[[str, str, str], Awaitable[None]]


class Presence(ABC):
    """Contract, for every driver:

    A user is present in a channel while at least one of their connections
    (on any node) is in it.

    * ``join(channel, user, connection)`` returns True exactly when this call
      made the user present (the transition that fires ``onJoin``); adding a
      connection that is already there returns False.
    * ``leave(channel, user, connection)`` returns True exactly when this call
      made the user absent (the transition that fires ``onLeave``); removing a
      connection that is not there returns False.
    * Each transition is reported once, however calls interleave.
    * ``join`` may carry ``info``, the member's ``user_info`` as JSON text ("" for
      none); the latest given for a user is kept while the user is present.
    * ``members(channel)`` lists the present users, each once, in no set order;
      ``members_info(channel)`` maps each to its info ("" for none);
      ``channels()`` lists the channels that have present users, on every node.
    * ``start(on_change)``: a driver that discovers transitions by itself calls
      ``on_change(kind, channel, user)`` once for each: a user whose node died
      stops being present (LEAVE), or a join/leave made while its backend was
      unreachable turns out, once replayed, to be a transition.
    * ``close()``: releases resources; safe to call twice.

    The hub never runs ``join`` and ``leave`` for one connection concurrently.
    """

    async def start(self, on_change: ChangeCallback) -> None:
        return None

    @abstractmethod
    async def join(self, channel: str, user: str, connection: str, info: str = "") -> bool: ...

    @abstractmethod
    async def leave(self, channel: str, user: str, connection: str) -> bool: ...

    @abstractmethod
    async def members(self, channel: str) -> list[str]: ...

    @abstractmethod
    async def members_info(self, channel: str) -> dict[str, str]: ...

    @abstractmethod
    async def channels(self) -> list[str]: ...

    async def close(self) -> None:
        return None
