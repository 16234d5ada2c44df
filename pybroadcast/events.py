"""Events carried by a broker between app processes and hubs."""

from __future__ import annotations

MESSAGE = "message"  # target: channel, data: the message
DIRECT = "direct"  # target: user id, data: the message
DISCONNECT = "disconnect"  # target: user id
JOIN = "join"  # target: channel, data: user id
LEAVE = "leave"  # target: channel, data: user id
KINDS = frozenset((MESSAGE, DIRECT, DISCONNECT, JOIN, LEAVE))
USER_KINDS = frozenset((DIRECT, DISCONNECT))  # addressed to a user, so every node must see them
PUBLISHED = 6  # the fields a publisher gives; the rest (offset, epoch) the broker adds


class Event(tuple):
    """(kind, target, data, name, exclude, user, offset, epoch): a tuple, so it unpacks and compares as one.

    ``name`` is the application's event name (``broadcast()``'s ``$event``), ""
    when none was given; for ``join``, the member's ``user_info`` (JSON) if any.
    ``exclude``: a connection id not to deliver to (Pusher's ``socket_id``, for
    ``toOthers()``), "" for none. ``user``: the member who sent a client event
    (Pusher's ``client-*`` on a presence channel), "" otherwise. ``offset`` and
    ``epoch``: the message's place in its channel's history (0 and "" when
    history is off, and on everything but a ``message``); given by the broker
    when it records the message, never by a publisher. Not a NamedTuple: that
    would make app processes import typing (~4 ms).
    """

    __slots__ = ()

    def __new__(cls, kind: str, target: str, data: str = "", name: str = "", exclude: str = "",
                user: str = "", offset: int = 0, epoch: str = "") -> Event:
        return tuple.__new__(cls, (kind, target, data, name, exclude, user, offset, epoch))

    def at(self, offset: int, epoch: str) -> Event:
        """This event as recorded at `offset` of its channel's history in `epoch`."""
        return tuple.__new__(Event, (*self[:PUBLISHED], offset, epoch))

    @property
    def kind(self) -> str:
        return self[0]

    @property
    def target(self) -> str:
        return self[1]

    @property
    def data(self) -> str:
        return self[2]

    @property
    def name(self) -> str:
        return self[3]

    @property
    def exclude(self) -> str:
        return self[4]

    @property
    def user(self) -> str:
        return self[5]

    @property
    def offset(self) -> int:
        return self[6]

    @property
    def epoch(self) -> str:
        return self[7]

    def __repr__(self) -> str:
        return f"Event{tuple.__repr__(self)}"
