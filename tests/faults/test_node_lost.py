"""A node lost with its pods: its agent killed mid-burst (pods killed, nothing reported), then marked NotReady.

A second node agent joins for this scenario, so the burst spreads over two nodes and the session's agent lives
on. Killing it is what a crashed machine does: the pods' processes die and nobody reports their end. This control
plane runs no node lifecycle controller, so the test stands in for it and sets the Node's Ready condition to
Unknown, as that controller does once the heartbeats stop. Runs on the lost node end Error NodeLost and are
retried per spec.retries (so they still end in their true phase); none stays stuck, none double-counts a slot.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory
from tests.faults.harness import CAPACITY, Burst
from tests.k8s.node_agent import NodeAgent
from tests.k8s.wait import wait_for

LOST = "supertest-lost-node"


def mark_not_ready(core: k8s.CoreV1Api) -> None:
    """What the node lifecycle controller writes once a node's heartbeats stop."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ready = {
        "type": "Ready",
        "status": "Unknown",
        "reason": "NodeStatusUnknown",
        "message": "Kubelet stopped posting node status.",
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }
    core.patch_node_status(LOST, {"status": {"conditions": [ready]}})


@pytest.mark.timeout(400)
def test_node_lost_with_its_pods(
    e2e: E2eEnv, cluster: Cluster, k8s_api: k8s.ApiClient, start_operator: OperatorFactory
) -> None:
    core = k8s.CoreV1Api(k8s_api)
    lost = NodeAgent(e2e.cp.kubeconfig_path, node_name=LOST).start()
    try:
        start_operator(running_capacity=str(CAPACITY), queued_capacity="200", node_lost_seconds="2")
        burst = Burst(cluster, k8s_api, "node lost with its pods").submit()
        on_lost = wait_for(
            lambda: [
                p.metadata.name for p in cluster.live_pods() if p.spec.node_name == LOST and p.status.phase == "Running"
            ],
            timeout=120,
            interval=0.2,
            message="a run pod running on the node about to be lost",
        )
        lost.stop()  # the machine dies: its pods' processes are killed and nothing reports their end
        mark_not_ready(core)
        burst.wait_all_terminal(timeout=240)
        outcome = burst.check(
            e2e.database_url,
            e2e.s3,
            e2e.buckets["test"],
            # Retries exhausted on a lost node: Error NodeLost is the truth, not a wrong phase.
            allowed=lambda _name, run: "was lost" in str((run.get("status") or {}).get("message")),
        )
        runs = {r["metadata"]["name"]: r for r in cluster.runs()}
        retried = [p.rsplit("-a", 1)[0] for p in on_lost]
        assert all(int(runs[name]["status"]["attempts"]) >= 2 for name in retried), {
            name: runs[name]["status"] for name in retried
        }
        assert outcome.ok, outcome.explain()
    finally:
        lost.stop()
        with contextlib.suppress(ApiException):
            core.delete_node(LOST)
