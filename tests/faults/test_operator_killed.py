"""The operator SIGKILLed twice during admission (folded in from the e2e tier's burst-with-restart test).

Kill 1 comes mid-burst, and the pods it admitted finish while nobody watches, so the restarted operator must learn
of them cold. Kill 2 comes right after the restart, while it re-admits. Admission must stay FIFO with priority
across both restarts, never exceed the capacity and never create a second pod for a run (counts are rebuilt from
the cluster, not from memory).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from kubernetes import client as k8s

from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory
from tests.faults.harness import CAPACITY, Burst
from tests.k8s.wait import wait_for

RUNS = 30


def _t(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@pytest.mark.timeout(500)
def test_operator_killed_twice_during_admission(
    e2e: E2eEnv, cluster: Cluster, k8s_api: k8s.ApiClient, start_operator: OperatorFactory
) -> None:
    operator = start_operator(running_capacity=str(CAPACITY), queued_capacity="200")
    burst = Burst(cluster, k8s_api, "operator SIGKILLed twice", count=RUNS)
    burst.submit(priority=lambda i: 10 if i % 4 == 3 else 0)
    burst.wait_started(finished=CAPACITY)
    operator.kill()  # SIGKILL: no cleanup, admissions possibly half-done
    wait_for(lambda: not cluster.live_pods(), timeout=120, message="in-flight pods to finish unobserved")
    operator.start()
    admitted = len(burst.tracker.pods_by_run)
    wait_for(
        lambda: len(burst.tracker.pods_by_run) > admitted,
        timeout=60,
        interval=0.1,
        message="the restarted operator admitting again",
    )
    operator.kill()  # mid-admission this time
    operator.start()
    burst.wait_all_terminal(timeout=300)
    outcome = burst.check(e2e.database_url, e2e.s3, e2e.buckets["test"])
    assert outcome.ok, outcome.explain()
    assert burst.tracker.peak == CAPACITY  # and the capacity was actually used

    # FIFO with priority: a run that had been waiting (margin 2 s) when another was admitted, and that comes
    # first in (-priority, creation, queuedAt, name) order, was admitted no later than that other run.
    runs = {r["metadata"]["name"]: r for r in cluster.runs() if r["metadata"]["name"] in burst.expected}

    def key(r: dict[str, Any]) -> tuple[int, float, str, str]:
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
