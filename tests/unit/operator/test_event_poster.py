"""The Event poster: in order per run, off the transition path, and bounded (a burst drops Events, never grows)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY
from supertest_operator.events import EventPoster


@dataclass(frozen=True)
class Target:
    name: str
    namespace: str = "team-a"
    kind: str = "TestRun"
    uid: str = "uid-1"


class RecordingKube:
    """Records each Event created; our own logic under test is the poster, not the apiserver."""

    def __init__(self) -> None:
        self.created: list[tuple[str, str]] = []
        self.expected = 0
        self.all_created = asyncio.Event()

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.created.append((body["involvedObject"]["name"], body["reason"]))
        if len(self.created) >= self.expected:
            self.all_created.set()
        return body


def dropped_total() -> float:
    return REGISTRY.get_sample_value("supertest_events_dropped_total") or 0.0


async def drain(poster: EventPoster, kube: RecordingKube, expected: int) -> None:
    kube.expected = expected
    workers = [asyncio.create_task(poster.run(i)) for i in range(poster.workers)]
    try:
        await asyncio.wait_for(kube.all_created.wait(), timeout=5)
        assert poster.pending == 0
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


async def test_a_runs_events_are_posted_in_order() -> None:
    kube = RecordingKube()
    poster = EventPoster(kube, workers=4)  # type: ignore[arg-type]
    reasons = ["Queued", "Starting", "Running", "Passed"]
    for reason in reasons:
        for run in ("a", "b", "c"):
            poster.post(Target(run), reason, "")
    await drain(poster, kube, expected=12)
    for run in ("a", "b", "c"):
        assert [reason for name, reason in kube.created if name == run] == reasons


async def test_beyond_the_bound_the_oldest_events_are_dropped_and_counted() -> None:
    kube = RecordingKube()
    poster = EventPoster(kube, workers=2, max_pending=4)  # type: ignore[arg-type]
    before = dropped_total()
    for i in range(10):  # one run's Events share one worker's queue: 2 places
        poster.post(Target("burst"), f"Reason{i}", "")
    assert poster.pending == 2
    assert REGISTRY.get_sample_value("supertest_events_pending") == 2
    assert dropped_total() - before == 8
    await drain(poster, kube, expected=2)
    # The newest are kept, in order: what is posted is the run's latest, not what waited longest.
    assert kube.created == [("burst", "Reason8"), ("burst", "Reason9")]
    # Once drained there is room again.
    poster.post(Target("burst"), "Later", "")
    assert poster.pending == 1
