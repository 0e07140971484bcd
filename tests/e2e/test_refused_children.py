"""A run whose script ConfigMap the apiserver refuses ends Error at once, its pod and ConfigMap are deleted, and
its slot is free within 5 s. Before, the pod stayed Pending (waiting for a ConfigMap that would never come) and
held a RUNNING_CAPACITY slot for as long as the run lived: five such runs took the whole default capacity."""

from __future__ import annotations

import time
from typing import Any

from supertest.kube.names import GROUP, VERSION
from tests.e2e.conftest import Cluster, OperatorFactory, make_testrun
from tests.e2e.scripts import TINY
from tests.k8s.wait import wait_for

# Each script is under the CRD's 256 KiB per-test limit; together they are over a ConfigMap's 1 MiB.
BIG_SCRIPT = TINY + "// " + "x" * 250_000 + "\n"


def oversized_jobrun(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "JobRun",
        "metadata": {"name": name},
        "spec": {"tests": [{"name": f"big-{i}", "script": BIG_SCRIPT} for i in range(5)]},
    }


def test_refused_configmap_ends_error_and_frees_the_slot(cluster: Cluster, start_operator: OperatorFactory) -> None:
    start_operator(running_capacity="1")
    cluster.create_run(oversized_jobrun("too-big"))
    run = cluster.wait_phase("too-big", "Error", timeout=60, plural="jobruns")
    ended = time.monotonic()
    # The next run gets the only slot at once, and the refused run's children are gone.
    cluster.create_run(make_testrun("next", TINY))
    cluster.wait_phase("next", {"Starting", "Running", "Passed"}, timeout=5 + 2)
    assert time.monotonic() - ended < 5 + 2
    wait_for(
        lambda: not [p for p in cluster.pods("supertest.dev/run=too-big")],
        timeout=5,
        message=lambda: f"too-big's pod to go: {[p.metadata.name for p in cluster.pods('supertest.dev/run=too-big')]}",
    )
    assert not cluster.configmaps("supertest.dev/run=too-big")
    status = run["status"]
    assert "ConfigMap" in status["message"] and "refused" in status["message"], status
    assert status.get("retryAt") is None, status  # the same ConfigMap would be refused again: no retry
    assert cluster.wait_phase("next", "Passed", timeout=180)["status"]["phase"] == "Passed"


def test_a_pod_that_cannot_start_is_deleted_and_frees_the_slot(
    cluster: Cluster, start_operator: OperatorFactory
) -> None:
    """PodStartFailed (here CreateContainerConfigError: a Secret that does not exist) ends the run Error, and its
    Pending pod, which would otherwise wait for the Secret for ever, is deleted with the script ConfigMap."""
    start_operator(running_capacity="1")
    missing = {"secretKeyRef": {"name": "supertest-vars-missing", "key": "TOKEN"}}
    cluster.create_run(make_testrun("no-secret", TINY, env=[{"name": "TOKEN", "valueFrom": missing}]))
    run = cluster.wait_phase("no-secret", "Error", timeout=90)
    ended = time.monotonic()
    cluster.create_run(make_testrun("after", TINY))
    cluster.wait_phase("after", {"Starting", "Running", "Passed"}, timeout=5 + 2)
    assert time.monotonic() - ended < 5 + 2
    wait_for(
        lambda: not cluster.pods("supertest.dev/run=no-secret"),
        timeout=5,
        message=lambda: (
            f"no-secret's pod to go: {[p.status.phase for p in cluster.pods('supertest.dev/run=no-secret')]}"
        ),
    )
    assert not cluster.configmaps("supertest.dev/run=no-secret")
    assert (
        run["status"]["conditions"][-1]["reason"] == "PodStartFailed" or "failed to start" in run["status"]["message"]
    )
    assert cluster.wait_phase("after", "Passed", timeout=180)["status"]["phase"] == "Passed"
