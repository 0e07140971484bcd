"""Run-scoped, expiring capabilities for the artifacts origin: `{expiry}.{kind}.{mac}` in the URL path.

The API mints one for a viewer allowed to see a run; the artifacts server checks it with the same key and
nothing else (no session, no database). The MAC binds the run id, the store kind and the expiry, so a token
opens one run's files until it expires and cannot be moved to another run or stretched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

_KINDS = frozenset({"test", "job"})
# Expiries are rounded up to this many steps of the TTL, so one viewer gets the same URL for a while: the UI's
# iframe does not reload on every poll of the run, and the browser's cache keeps working.
_STEPS_PER_TTL = 4


class InvalidToken(ValueError):
    """Malformed, forged, for another run, or expired."""


@dataclass(frozen=True, slots=True)
class RunGrant:
    run_id: str
    kind: str  # which store holds the run: "test" | "job"
    expires_at: int


def _mac(key: bytes, run_id: str, kind: str, expires_at: int) -> str:
    digest = hmac.new(key, f"supertest-artifacts\n{run_id}\n{kind}\n{expires_at}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def expiry(ttl_seconds: int, now: float | None = None) -> int:
    """At least `ttl_seconds` from now, rounded up to a step so repeated mints agree."""
    step = max(1, ttl_seconds // _STEPS_PER_TTL)
    current = int(now if now is not None else time.time())
    return (current // step + 1) * step + ttl_seconds


def mint(key: bytes, run_id: str, kind: str, ttl_seconds: int, now: float | None = None) -> str:
    if kind not in _KINDS:
        raise ValueError(f"unknown run kind {kind!r}")
    expires_at = expiry(ttl_seconds, now)
    return f"{expires_at}.{kind}.{_mac(key, run_id, kind, expires_at)}"


def verify(key: bytes, token: str, run_id: str, now: float | None = None) -> RunGrant:
    """The grant `token` gives on `run_id`; InvalidToken if it gives none."""
    parts = token.split(".")
    if len(parts) != 3 or parts[1] not in _KINDS or not parts[0].isdigit() or len(parts[0]) > 12:
        raise InvalidToken("malformed artifacts token")
    expires_at, kind, mac = int(parts[0]), parts[1], parts[2]
    if not hmac.compare_digest(mac, _mac(key, run_id, kind, expires_at)):
        raise InvalidToken("artifacts token is not valid for this run")
    if (now if now is not None else time.time()) >= expires_at:
        raise InvalidToken("artifacts token has expired; reopen the run to get a fresh link")
    return RunGrant(run_id=run_id, kind=kind, expires_at=expires_at)
