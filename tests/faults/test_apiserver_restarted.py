"""kube-apiserver SIGKILLed mid-burst and started again 10 s later; etcd keeps the state.

The operator, the node agent and the pod watch all lose their connections and watches at once. Afterwards the
operator must rebuild its counts from the cluster (no admission above capacity, no second pod for a run) and
finish every run.
"""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory
from tests.faults.harness import CAPACITY, Burst, fault


@pytest.mark.timeout(400)
def test_apiserver_restarted_mid_burst(
    e2e: E2eEnv, cluster: Cluster, k8s_api: k8s.ApiClient, start_operator: OperatorFactory
) -> None:
    operator = start_operator(running_capacity=str(CAPACITY), queued_capacity="200")
    burst = Burst(cluster, k8s_api, "kube-apiserver restarted").submit()
    burst.wait_started(finished=CAPACITY)
    with fault(e2e.cp.kill_apiserver, e2e.cp.start_apiserver, seconds=10):
        pass
    burst.wait_all_terminal(timeout=240)
    outcome = burst.check(e2e.database_url, e2e.s3, e2e.buckets["test"])
    assert operator.proc is not None and operator.proc.poll() is None, "the operator died with the apiserver"
    assert outcome.ok, outcome.explain()
