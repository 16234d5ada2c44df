"""Who is connected to this node, and where: connections, users, channels.

No I/O and no wire format: the hub (:mod:`pybroadcast.hub`) decides, this
records. A channel's subscribers are grouped by dialect, so that the hub
encodes each event once per dialect and the fan-out loop stays one write per peer.
"""

from __future__ import annotations

from typing import Any


SNAPSHOT_FROM = 16  # subscribers (of one dialect) from which a channel keeps its snapshot


class Registry:
    def __init__(self) -> None:
        self.peers: dict[str, Any] = {}  # connection id -> Peer
        self.users: dict[str, set[Any]] = {}  # user -> their Peers on this node
        self.channels: dict[str, dict[Any, set[Any]]] = {}  # channel -> dialect -> Peers
        self._snapshots: dict[tuple[str, Any], tuple[Any, ...]] = {}  # (channel, dialect) -> its Peers

    def add_peer(self, peer: Any) -> None:
        self.peers[peer.id] = peer
        if peer.user is not None:  # None: anonymous (a dialect that serves such connections)
            self.users.setdefault(peer.user, set()).add(peer)

    def remove_peer(self, peer: Any) -> None:
        self.peers.pop(peer.id, None)
        self._forget_user(peer)

    def identify(self, peer: Any, user: str) -> None:
        """The connection turned out to be `user` (e.g. Pusher's signin)."""
        self._forget_user(peer)
        peer.user = user
        self.users.setdefault(user, set()).add(peer)

    def _forget_user(self, peer: Any) -> None:
        mine = self.users.get(peer.user) if peer.user is not None else None
        if mine is not None:
            mine.discard(peer)
            if not mine:
                del self.users[peer.user]

    def add(self, peer: Any, channel: str) -> bool:
        """Put `peer` in `channel`; True when it is the channel's first subscriber on this node."""
        peer.channels.add(channel)
        groups = self.channels.get(channel)
        first = groups is None
        if first:
            groups = self.channels[channel] = {}
        groups.setdefault(peer.dialect, set()).add(peer)
        self._snapshots.pop((channel, peer.dialect), None)
        return first

    def remove(self, peer: Any, channel: str) -> bool:
        """Take `peer` out of `channel`; True when it was the channel's last subscriber on this node."""
        peer.channels.discard(channel)
        groups = self.channels.get(channel)
        if groups is None:
            return False
        peers = groups.get(peer.dialect)
        if peers is not None:
            peers.discard(peer)
            self._snapshots.pop((channel, peer.dialect), None)
            if not peers:
                del groups[peer.dialect]
        if groups:
            return False
        del self.channels[channel]
        return True

    def snapshot(self, channel: str, dialect: Any, peers: set[Any]) -> tuple[Any, ...]:
        """`peers` (`channel`'s subscribers in `dialect`) as a tuple: the same object until one joins or
        leaves. A message's recipients are queued as such a snapshot; copying a set of 10,000
        peers for every message, and comparing the copies to join consecutive messages, cost
        more than the rest of a message's way through the hub (and the copies, being
        containers, the garbage collector's time). A small group is copied each time: a
        channel per user (Laravel's notifications) would otherwise keep a tuple per user."""
        if len(peers) < SNAPSHOT_FROM:
            return tuple(peers)
        key = (channel, dialect)
        snapshot = self._snapshots.get(key)
        if snapshot is None:
            snapshot = self._snapshots[key] = tuple(peers)
        return snapshot
