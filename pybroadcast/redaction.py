"""URLs as messages and logs may show them: without the secrets they carry."""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urlsplit, urlunsplit

HIDDEN = "***"


def secret_name(name: str) -> bool:
    """A query parameter that carries a secret: redis-py takes ``password`` and ``ssl_password``
    from a URL's query as from its user part; an auth_url may carry a token or a key."""
    name = name.lower()
    return any(word in name for word in ("pass", "secret", "token", "auth", "sig")) or name.endswith("key")


def _query(query: str) -> str:
    # A name is read as parse_qs reads it ('+' and %-escapes decoded: redis-py finds `password` in
    # `pass%77ord`); ';' separates too, as it did for Pythons before 3.10.
    pieces = re.split(r"([&;])", query)
    for i in range(0, len(pieces), 2):
        name, equals, _ = pieces[i].partition("=")
        if equals and secret_name(unquote_plus(name)):
            pieces[i] = f"{name}={HIDDEN}"
    return "".join(pieces)


def redact_url(url: str) -> str:
    """`url` without the password of its user part nor the values of secret query parameters; the
    rest as written, but for the host of a URL with a password, shown as urlsplit reads it (as
    ext/redis_route.c shows it)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed bracket: show nothing of it
        return "(a URL that could not be read)"
    netloc = parts.netloc
    if parts.password is not None:
        try:
            host = f"{parts.hostname or ''}:{parts.port}" if parts.port else parts.hostname or ""
        except ValueError:  # a port that is not a number
            host = netloc.rpartition("@")[2]
        netloc = f"{parts.username}:{HIDDEN}@{host}" if parts.username else f":{HIDDEN}@{host}"
    query = _query(parts.query)
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
