"""The S3 server stopped for 20 s while runs upload their reports, then restarted with its data.

An upload outage is an infrastructure error: it is retried per spec.retries, and the run ends with its true
phase and its report, never an Error for a passing script.
"""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory
from tests.faults.harness import CAPACITY, Burst, fault
from tests.services.s3 import S3Server


@pytest.mark.timeout(400)
def test_s3_stopped_during_uploads(
    e2e: E2eEnv, cluster: Cluster, k8s_api: k8s.ApiClient, start_operator: OperatorFactory, faults_s3: S3Server
) -> None:
    start_operator(running_capacity=str(CAPACITY), queued_capacity="200")
    burst = Burst(cluster, k8s_api, "S3 stopped 20 s").submit()
    burst.wait_started(finished=CAPACITY)
    with fault(faults_s3.halt, faults_s3.resume, seconds=20):
        pass
    burst.wait_all_terminal(timeout=240)
    outcome = burst.check(e2e.database_url, e2e.s3, e2e.buckets["test"])
    assert outcome.ok, outcome.explain()
