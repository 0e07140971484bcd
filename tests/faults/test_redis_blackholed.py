"""Redis paused with SIGSTOP for 20 s mid-burst (black-holed: connections hang instead of failing), then resumed.

A hung Redis must not hang the runners, the operator or the verdicts: Redis carries the live view only.
"""

from __future__ import annotations

import os
import signal

import pytest
from kubernetes import client as k8s

from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory
from tests.faults.harness import CAPACITY, Burst, fault
from tests.services.redis_server import RedisServer


@pytest.mark.timeout(400)
def test_redis_blackholed_mid_burst(
    e2e: E2eEnv, cluster: Cluster, k8s_api: k8s.ApiClient, start_operator: OperatorFactory, faults_redis: RedisServer
) -> None:
    start_operator(running_capacity=str(CAPACITY), queued_capacity="200")
    burst = Burst(cluster, k8s_api, "Redis SIGSTOPped 20 s").submit()
    burst.wait_started(finished=CAPACITY)
    pid = faults_redis.pid
    with fault(lambda: os.kill(pid, signal.SIGSTOP), lambda: os.kill(pid, signal.SIGCONT), seconds=20):
        pass
    burst.wait_all_terminal(timeout=240)
    outcome = burst.check(e2e.database_url, e2e.s3, e2e.buckets["test"])
    assert outcome.ok, outcome.explain()
