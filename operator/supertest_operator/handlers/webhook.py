"""Queued-capacity validating webhook: a new run is denied when QUEUED_CAPACITY runs already wait.

The count is the run cache's waiting runs (run_cache.py: filled from a full list at start-up, so it survives
restarts) plus the creations this webhook allowed that the cache has not caught up with yet: two concurrent
creates can never both take the last free place. The message is supertest.admission.QueueFull's, the
same text the API answers with (HTTP 429).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import kopf

from supertest.admission import QueueFull, queue_has_room
from supertest_operator import metrics
from supertest_operator.settings import OperatorSettings

# How long an allowed creation counts as pending before the cache must have shown it.
PENDING_SECONDS = 30.0


@dataclass
class QueueGate:
    """The webhook's own memory, kept in kopf's memo (not in OperatorContext): the creations it allowed."""

    settings: OperatorSettings
    webhook_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Creations allowed that the cache has not shown yet: (plural, ns, name) -> expiry (monotonic).
    webhook_pending: dict[tuple[str, str, str], float] = field(default_factory=dict)


async def validate_queue(
    ctx: QueueGate, plural: str, body: Any, operation: str | None, dryrun: bool, waiting: set[tuple[str, str]]
) -> None:
    if operation != "CREATE":
        return
    meta = body.get("metadata") or {}
    key = (plural, meta.get("namespace", ""), meta.get("name", ""))
    capacity = ctx.settings.queued_capacity
    async with ctx.webhook_lock:
        now = time.monotonic()
        pending = ctx.webhook_pending
        for stale in [k for k, expiry in pending.items() if expiry < now or (k[1], k[2]) in waiting]:
            del pending[stale]
        count = len(waiting) + len(pending)
        if not queue_has_room(count, capacity):
            metrics.WEBHOOK_DENIED.inc()
            raise kopf.AdmissionError(str(QueueFull(count, capacity)), code=QueueFull.STATUS)
        if not dryrun and key[2]:
            pending[key] = now + PENDING_SECONDS


def forget_pending(ctx: QueueGate, plural: str, namespace: str, name: str) -> None:
    """The operator has seen the run: from now on the cache counts it (or it no longer waits)."""
    ctx.webhook_pending.pop((plural, namespace, name), None)
