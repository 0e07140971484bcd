"""Kubernetes Events on runs: one per status transition, visible in `kubectl describe` and `kubectl get events`."""

from __future__ import annotations

import asyncio
import time
import zlib
from datetime import UTC, datetime
from typing import Protocol

import structlog

from supertest.kube.client import KubeApi, KubeError, core_path
from supertest.kube.names import API_VERSION
from supertest_operator.metrics import EVENTS_DROPPED, EVENTS_PENDING

log = structlog.get_logger("supertest.operator.events")
COMPONENT = "supertest-operator"


class EventTarget(Protocol):
    """What an Event is about: a run (RunRef) or a TestJob (TestJobRef)."""

    @property
    def kind(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def uid(self) -> str: ...


def event_manifest(ref: EventTarget, reason: str, message: str, warning: bool, now: datetime) -> dict[str, object]:
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        # Nanoseconds in fixed-width hex: unique per run, and a run's Events sort by name in posting order.
        "metadata": {"name": f"{ref.name}.{time.time_ns():016x}", "namespace": ref.namespace},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": ref.kind,
            "name": ref.name,
            "namespace": ref.namespace,
            "uid": ref.uid,
        },
        "reason": reason,
        "message": message[:1024],
        "type": "Warning" if warning else "Normal",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": COMPONENT,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


async def post_event(kube: KubeApi, ref: EventTarget, reason: str, message: str, warning: bool = False) -> None:
    """Best effort: a lost Event must never fail a transition."""
    try:
        manifest = event_manifest(ref, reason, message, warning, datetime.now(UTC))
        await kube.create(core_path("events", ref.namespace), manifest)
    except (KubeError, OSError, TimeoutError) as exc:
        log.warning("event_post_failed", run=ref.name, reason=reason, error=str(exc))


_Posting = tuple[EventTarget, str, str, bool]
# Events waiting to be posted, at most (as client-go's event broadcaster, whose queue holds 1,000). A burst of
# thousands of runs makes Events faster than 4 posters can create them while the apiserver is busy admitting: an
# unbounded queue grew by thousands, which was operator memory and minutes-stale `kubectl describe` output, and
# every late Event was apiserver work competing with admission. Beyond this the oldest are dropped and counted.
MAX_PENDING = 1000
DROP_LOG_SECONDS = 10.0  # one warning per this long while dropping, with the count, not one line per Event


class EventPoster:
    """Posts Events off the transition path, in order per run (a run always lands on the same worker). Events are
    best effort: when `MAX_PENDING` wait already, the oldest is dropped (`supertest_events_dropped_total`)."""

    def __init__(self, kube: KubeApi, workers: int = 4, max_pending: int = MAX_PENDING) -> None:
        self._kube = kube
        self._queues: list[asyncio.Queue[_Posting]] = [
            asyncio.Queue(maxsize=max(1, max_pending // workers)) for _ in range(workers)
        ]
        self._dropped_unreported = 0
        self._last_drop_log = float("-inf")
        EVENTS_PENDING.set_function(lambda: self.pending)  # read at each scrape, from the queues themselves

    def post(self, ref: EventTarget, reason: str, message: str, warning: bool = False) -> None:
        queue = self._queues[zlib.crc32(f"{ref.namespace}/{ref.name}".encode()) % len(self._queues)]
        if queue.full():
            self._drop_oldest(queue)
        queue.put_nowait((ref, reason, message, warning))

    def _drop_oldest(self, queue: asyncio.Queue[_Posting]) -> None:
        """Make room by dropping the longest-waiting Event: what is posted stays recent (a run's latest transition,
        not the Queued Events of a burst minutes ago), and each run's Events still appear in order."""
        ref, reason, _message, _warning = queue.get_nowait()
        EVENTS_DROPPED.inc()
        self._dropped_unreported += 1
        now = time.monotonic()
        if now - self._last_drop_log >= DROP_LOG_SECONDS:
            log.warning("events_dropped", dropped=self._dropped_unreported, oldest_run=ref.name, reason=reason)
            self._dropped_unreported, self._last_drop_log = 0, now

    async def run(self, worker: int) -> None:
        queue = self._queues[worker]
        while True:
            ref, reason, message, warning = await queue.get()
            await post_event(self._kube, ref, reason, message, warning)

    @property
    def workers(self) -> int:
        return len(self._queues)

    @property
    def pending(self) -> int:
        return sum(q.qsize() for q in self._queues)
