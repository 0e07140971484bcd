"""Everything the handlers share in one process; kept in kopf's `memo` as `memo.ctx`.

Clients, locks and wake-ups only: what one part remembers for itself (the webhook's allowed creations, the
scheduler's reported ticks and mirrored rows) lives with that part (`QueueGate`, `TestJobScheduler`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
import structlog
from sqlalchemy.orm import Session, sessionmaker

from supertest.bus.base import EventBus
from supertest.kube.client import KubeApi
from supertest_operator.builders import spec_problem
from supertest_operator.db_mirror import DbMirror
from supertest_operator.events import EventPoster, EventTarget
from supertest_operator.leader import LeaderLease
from supertest_operator.run_cache import PodCache, RunCache
from supertest_operator.settings import OperatorSettings

log = structlog.get_logger("supertest.operator")


@dataclass
class OperatorContext:
    settings: OperatorSettings
    kube: KubeApi
    redis: aioredis.Redis | None
    db: DbMirror | None
    sessions: sessionmaker[Session] | None = None
    bus: EventBus | None = None
    leader: LeaderLease = field(default_factory=LeaderLease.standalone)
    events: EventPoster | None = None
    # Every run, slim, for the reconcile pass and the queued-capacity webhook (run_cache.py).
    runs: RunCache = field(default_factory=lambda: RunCache(spec_problem))
    pods: PodCache = field(default_factory=PodCache)  # the run pods, slim, in step with `runs`
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Every decision that can add a running run happens under this lock (one admission pass at a time).
    admission_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    run_locks: weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )
    # Wakes the TestJob scheduler (a TestJob or one of its JobRuns changed); it otherwise sleeps until the next tick.
    schedule_wake: asyncio.Event = field(default_factory=asyncio.Event)
    # The background batch marking new runs Queued (admission.mark_queued): one at a time.
    queue_marker: asyncio.Task[Any] | None = None
    # (namespace, pod) of the run pods this process created, while their run is active: one of them missing from a
    # list was deleted (its DELETED event still on its way), not lost to a crash before its creation, so it is never
    # created a second time (admission.recover_starting).
    created_pods: set[tuple[str, str]] = field(default_factory=set)
    ready: bool = False
    last_pass: float = field(default_factory=time.monotonic)
    last_cleanup: float = 0.0  # time.monotonic() of the last TTL sweep (loops.reconcile_once)
    probe_port: int | None = None
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    def post_event(self, ref: EventTarget, reason: str, message: str, warning: bool = False) -> None:
        if self.events is None:
            self.events = EventPoster(self.kube)
            for worker in range(self.events.workers):
                self.spawn(self.events.run(worker), name=f"events-{worker}")
        self.events.post(ref, reason, message, warning)

    def run_lock(self, key: tuple[str, str, str]) -> asyncio.Lock:
        lock = self.run_locks.get(key)
        if lock is None:
            lock = self.run_locks[key] = asyncio.Lock()
        return lock

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A tracked background task (Events, loops); exceptions are logged, never lost."""
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background_task_failed", task=task.get_name(), error=repr(task.exception()))

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.db is not None:
            await self.db.close()
        if self.redis is not None:
            await self.redis.aclose()
        if self.bus is not None:
            await self.bus.close()
        await self.kube.close()
