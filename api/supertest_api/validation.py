"""Checks shared by every place that accepts a Playwright script."""

from __future__ import annotations

import re

from supertest_api.errors import PayloadTooLarge, ValidationFailed

# Hard cap on any request body, checked from Content-Length and while streaming. Scripts have
# their own, lower MAX_SCRIPT_BYTES limit; this only protects the process from huge uploads.
MAX_BODY_BYTES = 2 * 1024 * 1024

_SLUG_UNSAFE = re.compile(r"[^a-z0-9_-]+")
_SPEC_SUFFIX = re.compile(r"(\.(spec|test))?\.(js|ts|mjs|cjs|mts|cts)$", re.IGNORECASE)


def check_script(script: str | None, max_bytes: int, field: str = "script") -> str:
    if script is None or not script.strip():
        raise ValidationFailed(
            f"{field} is empty", details=[{"loc": [field], "msg": "script is empty"}], reject_reason="empty_script"
        )
    size = len(script.encode("utf-8"))
    if size > max_bytes:
        raise PayloadTooLarge(
            f"{field} is {size} bytes; the limit is {max_bytes} bytes (MAX_SCRIPT_BYTES)",
            details={"size": size, "limit": max_bytes},
        )
    return script


def strip_spec_suffix(name: str) -> str:
    """`login.spec.ts` -> `login`: the launcher adds the extension for the script's language."""
    return _SPEC_SUFFIX.sub("", name.strip())


def slugify(name: str, fallback: str = "test", max_len: int = 60) -> str:
    """A file-safe name for `<name>.spec.js`."""
    slug = _SLUG_UNSAFE.sub("-", name.strip().lower()).strip("-_")[:max_len].strip("-_")
    return slug or fallback


def unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out: list[str] = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}-{count + 1}")
    return out
