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


class EventPoster:
    """Posts Events off the transition path, in order per run (a run always lands on the same worker)."""

    def __init__(self, kube: KubeApi, workers: int = 4) -> None:
        self._kube = kube
        self._queues: list[asyncio.Queue[tuple[EventTarget, str, str, bool]]] = [
            asyncio.Queue() for _ in range(workers)
        ]

    def post(self, ref: EventTarget, reason: str, message: str, warning: bool = False) -> None:
        index = zlib.crc32(f"{ref.namespace}/{ref.name}".encode()) % len(self._queues)
        self._queues[index].put_nowait((ref, reason, message, warning))

    async def run(self, worker: int) -> None:
        queue = self._queues[worker]
        while True:
            ref, reason, message, warning = await queue.get()
            await post_event(self._kube, ref, reason, message, warning)

    @property
    def workers(self) -> int:
        return len(self._queues)
