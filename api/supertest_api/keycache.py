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

from cachetools import TTLCache

P = TypeVar("P")  # what a valid key stands for: the auth package's Principal

# Far above the keys a deployment has; a flood of distinct valid keys cannot grow the process without bound (the
# least recently used entry makes room).
MAX_ENTRIES = 10_000


class KeyCache(Generic[P]):
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self._entries: TTLCache[str, P] | None = (
            TTLCache(maxsize=MAX_ENTRIES, ttl=ttl_seconds, timer=clock) if ttl_seconds > 0 else None
        )

    @staticmethod
    def _digest(authorization: str) -> str:
        return hashlib.sha256(authorization.encode()).hexdigest()

    def get(self, authorization: str) -> P | None:
        if self._entries is None:
            return None
        return self._entries.get(self._digest(authorization))

    def put(self, authorization: str, principal: P) -> None:
        if self._entries is not None:
            self._entries[self._digest(authorization)] = principal
