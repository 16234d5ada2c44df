"""Who may serve the command socket, and where it may live.

A Unix socket path in a shared directory can be bound by any local user first;
an app process that talked to such a squatter would hand it every message. So:

* the default path is in a directory of the hub user's own
  (``<tmp>/pybroadcast-<uid>/hub.sock``, mode 0700), created by the hub and
  verified, never assumed, when it already exists (the way tmux and ssh-agent
  treat theirs);
* an app process checks the peer's credentials (``SO_PEERCRED``) on every new
  connection: the hub must run as the app's own user, as root, or as the
  configured ``socket_owner``. Anything else is refused before a byte is sent.

Imported by app processes: only os, socket and struct (pwd when a name is given).
"""

from __future__ import annotations

import os
import socket
import stat
import struct

from ...errors import BroadcastError, Untrusted

DEFAULT_NAME = "hub.sock"


def default_path() -> str:
    temp = os.environ.get("TMPDIR") or os.environ.get("TEMP") or os.environ.get("TMP") or "/tmp"
    return os.path.join(temp, f"pybroadcast-{os.geteuid()}", DEFAULT_NAME)


def owner_uid(owner: str) -> int | None:
    """The uid a ``socket_owner`` setting names (a user name or a number); None when unset."""
    if not owner:
        return None
    if owner.isdigit():
        return int(owner)
    import pwd

    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise ValueError(f"socket_owner {owner!r} is not a user on this machine") from None


# --- the hub ----------------------------------------------------------------------


def prepare_directory(path: str, is_default: bool) -> None:
    """Make sure nobody else controls where the hub binds its socket; BroadcastError if someone could."""
    directory = os.path.dirname(path) or "."
    me = os.geteuid()
    if is_default:
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
    try:
        info = os.lstat(directory)
    except OSError as exc:
        raise BroadcastError(f"command socket directory {directory}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise BroadcastError(f"command socket directory {directory} is not a directory (a link or a file): refusing it")
    if is_default:
        if info.st_uid != me:
            raise BroadcastError(
                f"command socket directory {directory} belongs to uid {info.st_uid}, not to this hub's uid {me}:"
                " another user created it; remove it, or set the socket option to a directory you own")
        if info.st_mode & 0o077:
            raise BroadcastError(
                f"command socket directory {directory} is open to other users (mode {stat.S_IMODE(info.st_mode):o});"
                " it must be 0700: chmod 700 it or remove it")
    elif info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
        raise BroadcastError(
            f"command socket directory {directory} is writable by every user without the sticky bit:"
            " anyone could replace the socket; choose another directory")
    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        return
    if existing.st_uid != me and existing.st_uid != 0:
        raise BroadcastError(
            f"command socket {path} already exists and belongs to uid {existing.st_uid}:"
            " another user may be impersonating the hub; remove it or choose another path")


# --- app processes ------------------------------------------------------------------

_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def check_peer(sock: socket.socket, path: str, owner: int | None) -> None:
    """Untrusted unless the process serving `sock` runs as this user, root, or `owner`."""
    _pid, uid, _gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    if uid in (os.geteuid(), 0) or uid == owner:
        return
    expected = f"uid {os.geteuid()} (this process), root" + (f" or uid {owner} (socket_owner)" if owner is not None else "")
    raise Untrusted(
        f"refusing the command socket {path}: it is served by uid {uid}, not by {expected};"
        " another local user may have taken the path (set socket_owner if the hub runs as another user)")
