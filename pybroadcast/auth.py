"""Who is connecting: the ``onAuthenticate`` PHP callback, else ``auth_url``, else nobody."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import parse_qsl, unquote

from . import hooks, php_values
from .callbacks import CallbackAbandoned, CallbackBridge, CallbackError
from .redaction import redact_url

log = logging.getLogger("pybroadcast")

FORWARDED_HEADERS = ("cookie", "authorization")


def request_info(path: str, headers: list[tuple[str, str]], remote_addr: str) -> dict[str, Any]:
    """The ``$request`` array handed to ``onAuthenticate``."""
    path_only, _, query = path.partition("?")
    merged: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        if name in merged:  # repeated header: Cookie joins with "; " (RFC 6265), the rest with ", "
            value = f"{merged[name]}{'; ' if name == 'cookie' else ', '}{value}"
        merged[name] = value
    cookies: dict[str, str] = {}
    for part in merged.get("cookie", "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            cookies.setdefault(name, unquote(value))  # PHP keeps the first of duplicate names
    return {
        "path": path_only,
        "query": dict(parse_qsl(query, keep_blank_values=True)),
        "headers": merged,
        "cookies": cookies,
        "remote_addr": remote_addr,
    }


class Authenticator:
    def __init__(self, bridge: CallbackBridge, auth_url: str, timeout: float) -> None:
        self._bridge = bridge
        self._auth_url = auth_url
        self._timeout = timeout

    @property
    def configured(self) -> bool:
        return self._bridge.has(hooks.AUTHENTICATE) or bool(self._auth_url)

    async def authenticate(self, request: dict[str, Any]) -> str | None:
        """The user id, or None to reject (also when the check fails or times out)."""
        try:
            if self._bridge.has(hooks.AUTHENTICATE):
                result = await self._bridge.call(hooks.AUTHENTICATE, request)
                return php_values.user_id(result.type, result.value, "onAuthenticate")
            if self._auth_url:
                value = await asyncio.to_thread(self._ask_auth_url, request["headers"])
                return php_values.user_id(php_values.json_type(value), value, "auth_url")
        except CallbackAbandoned:
            raise  # PHP is exiting: the endpoint answers 503
        except CallbackError:
            pass  # already logged by the bridge
        return None

    def _ask_auth_url(self, headers: dict[str, str]) -> Any:
        forwarded = {name: headers[name] for name in FORWARDED_HEADERS if name in headers}
        req = urllib.request.Request(self._auth_url, headers=forwarded, method="GET")
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as response:
                body = json.loads(response.read(65536) or b"null")
        except urllib.error.HTTPError:
            return None  # 401/403/...: not logged in
        except (OSError, ValueError) as exc:
            shown = redact_url(self._auth_url)  # urllib's own messages may name the URL too
            log.error("auth_url %s failed: %s", shown, str(exc).replace(self._auth_url, shown))
            return None
        return body.get("user_id") if isinstance(body, dict) else None
