"""Text the API cannot store or pass on: NUL bytes and lone UTF-16 surrogates.

Postgres text refuses NUL, UTF-8 encoding (files, Kubernetes, Redis) refuses a lone surrogate, and JSON
lets both through as `\\u0000` and `\\ud800`. Every request string is checked here so they get a 422
that says which character is wrong instead of a 500 from whichever layer trips over it first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def unstorable_reason(text: str) -> str | None:
    """Why `text` cannot be stored, or None if it can."""
    if "\x00" in text:
        return "contains a NUL byte (U+0000), which cannot be stored"
    for char in text:
        if "\ud800" <= char <= "\udfff":
            return f"contains a lone UTF-16 surrogate (U+{ord(char):04X}), which is not valid Unicode"
    return None


def check_storable(value: Any) -> Any:
    """Raise ValueError (a 422 through pydantic) for a bad string anywhere in a JSON value; else return it."""
    if isinstance(value, str):
        reason = unstorable_reason(value)
        if reason is not None:
            raise ValueError(reason)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_storable(key)
            check_storable(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            check_storable(item)
    return value
