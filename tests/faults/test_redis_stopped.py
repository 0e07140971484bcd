"""Redis stopped for 20 s mid-burst, then restarted empty (no persistence, like a crashed cache).

Redis carries the live view only (DESIGN.md, "How a run's verdict travels"): an outage may cost log lines on the
SSE stream, never a run, a phase or a report.
"""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory
from tests.faults.harness import CAPACITY, Burst, fault
from tests.services.redis_server import RedisServer


@pytest.mark.timeout(400)
def test_redis_stopped_mid_burst(
    e2e: E2eEnv, cluster: Cluster, k8s_api: k8s.ApiClient, start_operator: OperatorFactory, faults_redis: RedisServer
) -> None:
    start_operator(running_capacity=str(CAPACITY), queued_capacity="200")
    burst = Burst(cluster, k8s_api, "Redis stopped 20 s").submit()
    burst.wait_started(finished=CAPACITY)
    with fault(faults_redis.halt, faults_redis.resume, seconds=20):
        pass
    burst.wait_all_terminal(timeout=240)
    outcome = burst.check(e2e.database_url, e2e.s3, e2e.buckets["test"])
    assert outcome.ok, outcome.explain()
