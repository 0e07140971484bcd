"""A short-lived, per-process memory of API-key lookups.

Without it every request paid for its key with a thread hop and a transaction (checkout, SELECT, COMMIT) before
doing any work: the biggest single cost of a submission. A key found valid is trusted for API_KEY_CACHE_SECONDS,
which is therefore also how long a revoked key keeps working on a process that looked it up just before.
Only valid keys are remembered (an unknown or revoked key is looked up every time, so a typo costs the client,
not the cache), by the SHA-256 of the Authorization header, never the key itself.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Generic, TypeVar

P = TypeVar("P")  # what a valid key stands for: the auth package's Principal

# Far above the keys a deployment has; a flood of distinct valid keys cannot grow the process without bound.
MAX_ENTRIES = 10_000


class KeyCache(Generic[P]):
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, P]] = {}

    @staticmethod
    def _digest(authorization: str) -> str:
        return hashlib.sha256(authorization.encode()).hexdigest()

    def get(self, authorization: str) -> P | None:
        if self.ttl <= 0:
            return None
        digest = self._digest(authorization)
        entry = self._entries.get(digest)
        if entry is None:
            return None
        expires, principal = entry
        if self._clock() >= expires:
            del self._entries[digest]
            return None
        return principal

    def put(self, authorization: str, principal: P) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()  # rare (see MAX_ENTRIES); the next requests look their keys up again
        self._entries[self._digest(authorization)] = (self._clock() + self.ttl, principal)
