"""The API in Kubernetes mode (KubernetesLauncher) and both RBAC manifests, on the real control plane.

The operator runs as its ServiceAccount with deploy/rbac/operator.yaml only; the API's launcher runs as its
ServiceAccount with deploy/rbac/api.yaml only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from supertest.db.models import RunRecord
from tests.e2e.conftest import TERMINAL, Cluster, E2eEnv, OperatorFactory, apply_rbac, can_i, make_testrun
from tests.e2e.scripts import PASSING, TINY, sleeping
from tests.k8s.wait import wait_for

REPO = Path(__file__).resolve().parents[2]


def sse_events(url: str, headers: dict[str, str], timeout: float = 240) -> list[dict[str, Any]]:
    """Read the run's SSE stream until a terminal status arrives."""
    events: list[dict[str, Any]] = []
    with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(timeout, connect=10)) as resp:
        assert resp.status_code == 200, resp.read()
        for line in resp.iter_lines():
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            events.append(event)
            if event.get("type") == "status" and event.get("phase") in TERMINAL:
                return events
    raise AssertionError(f"stream ended without a terminal status: {events}")


def test_api_submit_sse_report_cancel_and_queue_full(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory, api: tuple[str, dict[str, str]]
) -> None:
    apply_rbac(cluster, "operator.yaml")
    operator_kubeconfig = e2e.cp.serviceaccount_kubeconfig(cluster.ns, "supertest-operator")
    start_operator(kubeconfig=str(operator_kubeconfig), running_capacity="1", queued_capacity="2")
    url, auth = api

    # RBAC: what each ServiceAccount may do, and nothing more.
    assert can_i(cluster, "supertest-api", "create", "testruns.supertest.dev")
    assert can_i(cluster, "supertest-api", "patch", "jobruns.supertest.dev")
    assert not can_i(cluster, "supertest-api", "delete", "testruns.supertest.dev")
    assert not can_i(cluster, "supertest-api", "get", "pods")
    assert not can_i(cluster, "supertest-api", "create", "testruns.supertest.dev", "-n", "default")
    assert can_i(cluster, "supertest-operator", "create", "pods")
    assert not can_i(cluster, "supertest-operator", "get", "secrets")

    submitted = httpx.post(f"{url}/api/test", json={"script": PASSING}, headers=auth, timeout=30)
    assert submitted.status_code == 202, submitted.text
    run_id = submitted.json()["runId"]
    # The row exists the moment submit returns.
    first = httpx.get(f"{url}/api/runs/{run_id}", headers=auth, timeout=10)
    assert first.status_code == 200, first.text
    assert first.json()["phase"] in ("Queued", "Starting", "Running")
    assert cluster.run(run_id)["metadata"]["labels"]["supertest.dev/trigger"] == "api"  # type: ignore[index]

    events = sse_events(f"{url}/api/test-status/sse/{run_id}", auth)
    phases = [e["phase"] for e in events if e["type"] == "status"]
    assert phases[-1] == "Passed", events
    assert "Running" in phases and any(e["type"] == "log" for e in events)
    # The API redirects to the artifacts origin (httpx drops the API key on the way: the URL's token suffices).
    report_path = f"{url}/api/test-results/{run_id}/report/index.html"
    report = httpx.get(report_path, headers=auth, timeout=30, follow_redirects=True)
    assert report.status_code == 200 and "<html" in report.text.lower()
    assert report.history and report.history[0].status_code == 307 and report.url.port != httpx.URL(url).port

    def row() -> RunRecord | None:
        engine = sa.create_engine(e2e.database_url)
        try:
            with sa.orm.Session(engine) as session:
                return session.get(RunRecord, run_id)
        finally:
            engine.dispose()

    wait_for(
        lambda: (r := row()) is not None and r.phase == "Passed" and r.passed == 1,
        timeout=20,
        message="the Postgres row to say Passed",
    )
    assert row().trigger == "api"  # type: ignore[union-attr]

    # Fill the queue: one running blocker, two waiting; the webhook (QUEUED_CAPACITY=2) denies the next: 429.
    blocker = httpx.post(
        f"{url}/api/test", json={"script": sleeping(120), "timeoutSeconds": 300}, headers=auth, timeout=30
    ).json()["runId"]
    cluster.wait_phase(blocker, "Running", timeout=120)
    waiting = [httpx.post(f"{url}/api/test", json={"script": TINY}, headers=auth, timeout=30) for _ in range(2)]
    assert [w.status_code for w in waiting] == [202, 202]
    full = httpx.post(f"{url}/api/test", json={"script": TINY}, headers=auth, timeout=30)
    assert full.status_code == 429, full.text
    assert "queue is full" in full.text
    assert cluster.apply(make_testrun("by-kubectl", TINY), check=False).returncode != 0

    # Cancel through the API: a waiting run and the running one.
    for run in [waiting[0].json()["runId"], blocker]:
        cancelled = httpx.post(f"{url}/api/runs/{run}/cancel", headers=auth, timeout=30)
        assert cancelled.status_code in (200, 202), cancelled.text
        assert cluster.wait_phase(run, TERMINAL, timeout=60)["status"]["phase"] == "Cancelled"
