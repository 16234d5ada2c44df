"""The AppRoute interface: how ``broadcast()`` and friends reach the hubs.

Implementations: the memory driver's ``SocketRoute`` (the hub's Unix command
socket), the Redis driver's ``RedisRoute`` (Redis directly) and
:class:`pybroadcast.in_hub_route.InHubRoute` (callbacks inside the hub process).
``tests/test_route_contract.py`` runs the same contract against every one.
Imported by app processes: keep it light.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..events import Event
    from .history import Page


class AppRoute(ABC):
    """Contract, for every route (calls come from the PHP thread, one at a time):

    * ``publish(event)`` hands a ``message``, ``direct`` or ``disconnect`` event
      (already validated) to every hub that needs it, on every node, and returns
      once it was accepted. Events published by one process arrive in order.
    * ``members(channel)`` lists the users present in ``channel`` across every
      node, each once, in no set order.
    * ``history(channel, limit)``: a :class:`~pybroadcast.drivers.history.Page`
      of the newest ``limit`` messages kept for ``channel`` (oldest first) with its
      epoch and top offset; None when history is off (``history_size`` 0 — for the
      memory driver, the hub's setting).
    * Neither blocks for more than about a second. Failures raise, naming what
      failed: :class:`~pybroadcast.errors.Unreachable` when nothing was sent,
      :class:`~pybroadcast.errors.Unconfirmed` when it was sent but not
      acknowledged in time (it may still be delivered), another
      :class:`~pybroadcast.errors.BroadcastError` when it was refused.
    * A route survives its hub or broker restarting: the next call reconnects.
    """

    @abstractmethod
    def publish(self, event: Event) -> None: ...

    @abstractmethod
    def members(self, channel: str) -> list[str]: ...

    @abstractmethod
    def history(self, channel: str, limit: int) -> Page | None: ...
