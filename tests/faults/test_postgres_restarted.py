"""Postgres stopped for 20 s mid-burst, then restarted.

While it is down the API answers 503 with Retry-After (never 500, never a run accepted without its row), the
operator keeps admitting and finishing runs from the cluster alone, and its mirror writes the rows it held back
once Postgres is back: every row agrees with its resource afterwards.
"""

from __future__ import annotations

import httpx
import pytest
from kubernetes import client as k8s

from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory
from tests.e2e.scripts import TINY
from tests.faults.harness import CAPACITY, Burst, fault
from tests.services.postgres import PostgresServer


@pytest.mark.timeout(400)
def test_postgres_restarted_mid_burst(
    e2e: E2eEnv,
    cluster: Cluster,
    k8s_api: k8s.ApiClient,
    start_operator: OperatorFactory,
    api: tuple[str, dict[str, str]],
    faults_postgres: PostgresServer,
) -> None:
    url, headers = api
    start_operator(running_capacity=str(CAPACITY), queued_capacity="200")
    burst = Burst(cluster, k8s_api, "Postgres restarted").submit()
    burst.wait_started(finished=CAPACITY)
    answers: list[tuple[str, int, str]] = []
    with (
        httpx.Client(base_url=url, headers=headers, timeout=30) as http,
        fault(faults_postgres.halt, faults_postgres.resume, seconds=20) as outage,
    ):
        while not outage.over(poll=1.0):  # probe the API all through the outage, a second apart
            for method, path, body in (("GET", "/api/runs", None), ("POST", "/api/test", {"script": TINY})):
                resp = http.request(method, path, json=body)
                answers.append((f"{method} {path}", resp.status_code, resp.headers.get("Retry-After", "")))
    burst.wait_all_terminal(timeout=240)
    outcome = burst.check(e2e.database_url, e2e.s3, e2e.buckets["test"])

    during = [a for a in answers if a[1] != 200]
    assert during, "no probe saw the outage"
    assert all(status in (200, 201, 202, 503) for _, status, _ in answers), answers
    assert all(retry for _, status, retry in answers if status == 503), answers
    # A submission answered 503 created nothing: the cluster holds only the burst and the accepted submissions.
    accepted = sum(1 for what, status, _ in answers if what.startswith("POST") and status in (200, 201, 202))
    assert len(cluster.runs()) == len(burst.expected) + accepted
    assert outcome.ok, outcome.explain()
