"""Capacity: 60 TestRuns at once with RUNNING_CAPACITY=3, the operator SIGKILLed and restarted mid-burst.

Never more than 3 live run pods (every pod event is watched), FIFO with priority, no run lost, no
duplicate pod, all 60 terminal. Then the queued-capacity webhook denies the 11th waiting run.
"""

from __future__ import annotations

import concurrent.futures
from datetime import datetime

import pytest
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from supertest.admission import QueueFull
from tests.e2e.conftest import TERMINAL, Cluster, OperatorFactory, make_testrun
from tests.e2e.pod_tracker import PodTracker
from tests.e2e.scripts import TINY, sleeping
from tests.k8s.wait import wait_for

RUNS = 60
CAPACITY = 3


def _t(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@pytest.mark.timeout(1500)  # 60 real Playwright runs, 3 at a time, on a 2-core machine
def test_burst_with_restart(cluster: Cluster, k8s_api: k8s.ApiClient, start_operator: OperatorFactory) -> None:
    tracker = PodTracker(k8s_api, cluster.ns).start()
    operator = start_operator(running_capacity=str(CAPACITY), queued_capacity="200")
    try:
        names = [f"burst-{i:02d}" for i in range(RUNS)]
        for i, name in enumerate(names):
            cluster.create_run(make_testrun(name, TINY, priority=10 if i % 4 == 3 else 0))

        def finished() -> int:
            return sum(1 for r in cluster.runs() if (r.get("status") or {}).get("phase") in TERMINAL)

        wait_for(lambda: finished() >= 12, timeout=300, message="a fifth of the burst to finish")
        operator.kill()  # SIGKILL: no cleanup, admissions possibly half-done
        # The pods it admitted finish while nobody watches, so the restarted operator must learn of them cold.
        wait_for(lambda: not cluster.live_pods(), timeout=120, message="in-flight pods to finish unobserved")
        operator.start()
        wait_for(
            lambda: finished() == RUNS,
            timeout=900,
            interval=1.0,
            message=lambda: f"all {RUNS} runs terminal ({finished()} so far)",
        )
    finally:
        tracker.stop()

    runs = {r["metadata"]["name"]: r for r in cluster.runs()}
    assert sorted(runs) == names, "no run may be lost"
    assert all(r["status"]["phase"] == "Passed" for r in runs.values()), {
        n: r["status"]["phase"] for n, r in runs.items() if r["status"]["phase"] != "Passed"
    }
    assert tracker.peak <= CAPACITY, f"{tracker.peak} live run pods at once"
    assert tracker.peak == CAPACITY  # and the capacity was actually used
    duplicates = {run: pods for run, pods in tracker.pods_by_run.items() if pods != {f"{run}-a1"}}
    assert not duplicates, duplicates
    assert all(r["status"]["attempts"] == 1 for r in runs.values())

    # FIFO with priority: a run that had been waiting (margin 2 s) when another was admitted, and that comes
    # first in (-priority, creation, queuedAt, name) order, was admitted no later than that other run.
    def key(r: dict) -> tuple:  # type: ignore[type-arg]
        return (
            -r["spec"].get("priority", 0),
            _t(r["metadata"]["creationTimestamp"]),
            r["status"]["queuedAt"],
            r["metadata"]["name"],
        )

    violations = []
    for x in runs.values():
        for y in runs.values():
            waiting = _t(y["status"]["queuedAt"]) < _t(x["status"]["startTime"]) - 2.0
            if key(y) < key(x) and waiting and _t(y["status"]["startTime"]) > _t(x["status"]["startTime"]):
                violations.append((y["metadata"]["name"], x["metadata"]["name"]))
    assert not violations, violations[:10]
    # High-priority runs created late overtook earlier ones.
    first_admitted = sorted(runs.values(), key=lambda r: _t(r["status"]["startTime"]))[: RUNS // 4]
    assert sum(1 for r in first_admitted if r["spec"].get("priority")) > RUNS // 8
    assert "supertest_runs_admitted_total" in operator.metrics()


def test_queue_full_is_denied_by_the_webhook(cluster: Cluster, start_operator: OperatorFactory) -> None:
    start_operator(running_capacity="1", queued_capacity="10")
    cluster.create_run(make_testrun("blocker", sleeping(120), timeoutSeconds=300))
    cluster.wait_phase("blocker", "Running", timeout=120)
    for i in range(8):
        cluster.apply(make_testrun(f"waiting-{i}", TINY))

    # Concurrent creations race for the last two places: exactly two win.
    def create(i: int) -> bool:
        try:
            cluster.create_run(make_testrun(f"racer-{i}", TINY))
        except ApiException as exc:
            assert exc.status == 429, exc
            assert "queue is full" in str(exc.body)
            return False
        return True

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        created = sum(pool.map(create, range(5)))
    assert created == 2

    denied = cluster.apply(make_testrun("eleventh", TINY), check=False)
    assert denied.returncode != 0
    assert str(QueueFull(10, 10)) in denied.stderr, denied.stderr
    assert cluster.run("eleventh") is None
