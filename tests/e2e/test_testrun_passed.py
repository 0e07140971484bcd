"""A TestRun applied with kubectl reaches Passed: printer columns, kubectl wait, Events, S3 report, Postgres row."""

from __future__ import annotations

import sqlalchemy as sa

from supertest.db.models import RunRecord
from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory, make_testrun
from tests.e2e.scripts import PASSING
from tests.k8s.wait import wait_for


def test_kubectl_apply_reaches_passed(e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory) -> None:
    start_operator()
    name = "hello"
    cluster.apply(make_testrun(name, PASSING, timeoutSeconds=120))

    done = cluster.kubectl("wait", "--for=condition=Complete", f"tr/{name}", "--timeout=180s", check=False)
    assert done.returncode == 0, (done.stderr, cluster.describe(name))
    run = cluster.run(name)
    assert run is not None
    status = run["status"]
    assert status["phase"] == "Passed"
    assert status["summary"]["passed"] == 1 and status["summary"]["failed"] == 0
    assert status["attempts"] == 1
    assert status["podName"] == f"{name}-a1"
    assert status["reportURL"] == f"/api/test-results/{name}/report/index.html"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Admitted": "True",
        "Running": "False",
        "Complete": "True",
        "Failed": "False",
    }
    for stamp in ("queuedAt", "startTime", "completionTime"):
        assert status[stamp]

    table = cluster.kubectl("get", "tr").stdout.splitlines()
    assert table[0].split() == ["NAME", "PHASE", "PASSED", "FAILED", "SHARDS", "DURATION", "AGE"]
    assert table[1].split()[:4] == [name, "Passed", "1", "0"]
    assert cluster.kubectl("get", "supertest").stdout.count(name) == 1  # the category

    wait_for(lambda: "Passed" in [e.reason for e in cluster.events_for(name)], timeout=20, message="Events")
    reasons = [e.reason for e in cluster.events_for(name)]
    # A run that waits is marked Queued (its condition says so) without an Event: its first Event is Admitted.
    assert reasons[0] == "Admitted", reasons
    assert "Passed" in reasons
    described = cluster.kubectl("describe", "tr", name).stdout
    assert "Admitted" in described and "Passed" in described

    s3 = e2e.s3.client()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=e2e.buckets["test"], Prefix=f"runs/{name}/")["Contents"]}
    assert f"runs/{name}/report/index.html" in keys
    assert f"runs/{name}/results.json" in keys

    engine = sa.create_engine(e2e.database_url)
    try:

        def row_matches() -> RunRecord | None:
            with sa.orm.Session(engine) as session:
                row = session.get(RunRecord, name)
                return row if row is not None and row.phase == "Passed" else None

        row = wait_for(row_matches, timeout=20, message="the Postgres row to say Passed")
        assert row.kind == "test" and row.trigger == "kubectl"
        assert (row.total, row.passed, row.failed) == (1, 1, 0)
        assert row.attempts == 1 and row.namespace == cluster.ns and row.k8s_uid == run["metadata"]["uid"]
        assert row.report_url == status["reportURL"]
        assert row.started_at is not None and row.completed_at is not None
    finally:
        engine.dispose()
