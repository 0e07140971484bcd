from __future__ import annotations

from typing import Any

from supertest_operator.cluster import Snapshot, pod_run_key
from supertest_operator.handlers.admission import spec_problem
from supertest_operator.run import RunView
from supertest_operator.run_cache import RunCache

from tests.unit.operator.conftest import run_body


def pod(name: str, run: str, phase: str, kind: str = "test") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "labels": {"supertest.dev/run": run, "supertest.dev/kind": kind}},
        "status": {"phase": phase},
    }


def test_active_counts_phases_and_live_pods_once_per_run() -> None:
    bodies = [
        run_body("starting", status={"phase": "Starting", "podName": "starting-a1"}),
        run_body("running", status={"phase": "Running", "podName": "running-a1"}),
        run_body("cancelled", status={"phase": "Cancelled", "podName": "cancelled-a1"}),  # pod still stopping
        run_body("passed", status={"phase": "Passed", "podName": "passed-a1"}),
        run_body("queued", status={"phase": "Queued"}),
        run_body("queued-cancel", spec={"script": "s", "cancel": True}, status={"phase": "Queued"}),
    ]
    views = [RunView.from_body(b) for b in bodies]
    snap = Snapshot(
        runs=views,
        pods=[
            pod("running-a1", "running", "Running"),
            pod("cancelled-a1", "cancelled", "Running"),
            pod("passed-a1", "passed", "Succeeded"),
        ],
    )
    assert snap.active_keys() == {("testruns", "ns", n) for n in ("starting", "running", "cancelled")}
    assert snap.has_pod(views[1]) and not snap.has_pod(views[0])
    assert pod_run_key(pod("x", "j", "Running", kind="job")) == ("jobruns", "ns", "j")
    assert pod_run_key({"metadata": {"labels": {}}}) is None


def test_a_finished_runs_pending_pod_holds_no_slot() -> None:
    """A pod that never ran (its ConfigMap refused, its image never pulled) must not hold capacity for its Error run;
    the same Pending pod of a run still Starting does."""
    bodies = [
        run_body("refused", status={"phase": "Error", "podName": "refused-a1"}),
        run_body("starting", status={"phase": "Starting", "podName": "starting-a1"}),
        run_body("retrying", status={"phase": "Queued", "podName": "retrying-a1", "attempts": 1}),
    ]
    views = [RunView.from_body(b) for b in bodies]
    snap = Snapshot(
        runs=views,
        pods=[
            pod("refused-a1", "refused", "Pending"),
            pod("starting-a1", "starting", "Pending"),
            pod("retrying-a1", "retrying", "Pending"),
        ],
    )
    assert snap.active_keys() == {("testruns", "ns", "starting"), ("testruns", "ns", "retrying")}


def test_waiting_runs_include_the_ones_not_yet_marked_queued() -> None:
    """Admission's candidates (the run cache's queue): Queued and phase-less runs alike, never cancelled or deleting
    ones."""
    bodies = [
        run_body("new"),
        run_body("queued", status={"phase": "Queued"}),
        run_body("new-cancelled", spec={"script": "s", "cancel": True}),
        run_body("new-deleting", deletionTimestamp="2026-01-01T00:00:05Z"),
        run_body("starting", status={"phase": "Starting", "podName": "starting-a1"}),
    ]
    cache = RunCache(spec_problem)
    for body in bodies:
        cache.observe(body)
    assert sorted(key[2] for key in cache.waiting_keys()) == ["new", "queued"]
    assert [v.name for v in cache.queue_head(10)] == ["new", "queued"]  # same second, no queuedAt: by name
