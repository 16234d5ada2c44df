"""Judging what PHP callbacks (and ``auth_url``) return, by PHP's rules.

Python's truth differs from PHP's (``"0"`` is true in Python, false in PHP), so
the extension reports each return value as PHP sees it: its PHP type name and
``zend_is_true()``. Decisions are made on those, never on Python truthiness.
"""

from __future__ import annotations

import logging
from typing import Any

from . import compact_json, validation

log = logging.getLogger("pybroadcast")

# Types whose truth PHP code means as an answer; anything else is a mistake.
AUTHORIZE_TYPES = frozenset(("bool", "int", "string", "null", "array"))


class PhpValue:
    """One value a PHP callable returned."""

    __slots__ = ("type", "truthy", "value")

    def __init__(self, type: str, truthy: bool, value: Any) -> None:
        self.type = type  # PHP's name: null bool int float string array object resource ...
        self.truthy = truthy  # zend_is_true()
        self.value = value  # converted (bytes for a string); None for an object or resource

    def __repr__(self) -> str:
        return f"PhpValue({self.type}, {self.truthy}, {self.value!r})"


def allows(result: PhpValue, channel: str) -> bool:
    """An ``onAuthorize`` answer: only what PHP considers true allows."""
    if result.type not in AUTHORIZE_TYPES:
        log.error("onAuthorize returned a PHP %s for %s: refused (return true or false)", result.type, channel)
        return False
    return result.truthy


def user_info(result: PhpValue) -> str:
    """The presence ``user_info`` an ``onAuthorize`` array gives (JSON text), "" for anything else."""
    if result.type != "array" or not result.truthy or result.value is None:
        return ""
    return compact_json.dumps(_text(result.value))


def _text(value: Any) -> Any:
    """PHP strings arrive as bytes: make them text (invalid UTF-8 replaced) for JSON."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_text(k) if isinstance(k, bytes) else str(k): _text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


def user_id(type_name: str, value: Any, source: str) -> str | None:
    """The user an ``onAuthenticate``/``auth_url`` answer names, or None to reject.

    A string or int names a user; null, false and "" mean "not logged in";
    any other type is refused with a log line (a clean 401, never a 500).
    """
    if type_name == "null" or (type_name == "bool" and not value) or (type_name == "string" and not value):
        return None
    if type_name not in ("int", "string"):
        log.error("%s returned a PHP %s: rejected (return a user id string or int, or null)", source, type_name)
        return None
    try:
        return validation.user_id(value)
    except ValueError as exc:
        log.error("%s returned an unusable user id: %s", source, exc)
        return None


def json_type(value: Any) -> str:
    """PHP's type name for a value decoded from JSON (an ``auth_url`` answer)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "array"
