from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from supertest.db.engine import session_scope
from supertest.db.models import JobRecord, RunRecord
from supertest.launch import RunRequest
from supertest.phases import Phase
from tests.unit.api.conftest import ARTIFACTS_ORIGIN, FakeLauncher, insert_run

SCRIPT = "import { test } from '@playwright/test';\ntest('ok', async () => {});\n"


def run_count(db: sessionmaker[Session]) -> int:
    with session_scope(db) as session:
        return session.query(RunRecord).count()


def test_submit_inline_test(client: TestClient, launcher: FakeLauncher, db: sessionmaker[Session]) -> None:
    res = client.post("/api/test", json={"script": SCRIPT, "title": "Smoke", "priority": 5, "timeoutSeconds": 60})
    assert res.status_code == 202, res.text
    body = res.json()
    run_id = body["runId"]
    assert body["phase"] == "Queued"
    assert body["reportUrl"].startswith(ARTIFACTS_ORIGIN + "/")  # a run-scoped token, then the run's report
    assert body["reportUrl"].endswith(f"/runs/{run_id}/report/index.html")
    assert body["statusUrl"] == f"/api/test-status/sse/{run_id}"
    request = launcher.submitted[0]
    assert request.kind == "test"
    assert request.priority == 5
    assert request.timeout_seconds == 60
    assert request.trigger == "api"
    assert request.scripts[0].script == SCRIPT
    assert request.scripts[0].file_name == "smoke.spec.js"
    got = client.get(f"/api/runs/{run_id}").json()
    assert got["runId"] == run_id
    assert got["phase"] == "Queued"
    assert got["summary"]["total"] == 0


def test_cli_trigger_header(client: TestClient, launcher: FakeLauncher) -> None:
    client.post("/api/test", json={"script": SCRIPT}, headers={"X-Supertest-Trigger": "cli"})
    assert launcher.submitted[0].trigger == "cli"


def test_bad_scripts_are_refused_and_nothing_is_stored(
    client: TestClient, launcher: FakeLauncher, db: sessionmaker[Session]
) -> None:
    for script in ("", "   \n\t "):
        res = client.post("/api/test", json={"script": script})
        assert res.status_code == 422
        assert res.json() == {
            "error": "validation_failed",
            "message": "script is empty",
            "details": [{"loc": ["script"], "msg": "script is empty"}],
        }
    over = client.post("/api/test", json={"script": "x" * 4097})
    assert over.status_code == 413
    assert "the limit is 4096 bytes (MAX_SCRIPT_BYTES)" in over.json()["message"]
    missing = client.post("/api/test", json={})
    assert missing.status_code == 422
    assert "script is required" in missing.json()["message"]
    not_json = client.post("/api/test", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422
    assert launcher.submitted == []
    assert run_count(db) == 0


def test_five_megabyte_body_is_refused_by_content_length(client: TestClient, db: sessionmaker[Session]) -> None:
    res = client.post("/api/test", json={"script": "x" * (5 * 1024 * 1024)})
    assert res.status_code == 413
    assert res.json()["error"] == "payload_too_large"
    assert "2097152" in res.json()["message"]
    assert run_count(db) == 0


def test_run_stored_test(client: TestClient, launcher: FakeLauncher) -> None:
    test = client.post("/api/tests", json={"title": "Stored One", "script": SCRIPT, "language": "typescript"}).json()
    res = client.post("/api/test", json={"testId": test["id"]})
    assert res.status_code == 202
    request = launcher.submitted[-1]
    assert request.test_id == test["id"]
    assert request.scripts[0].file_name == "stored-one.spec.ts"
    assert client.post(f"/api/tests/{test['id']}/run").status_code == 202
    assert client.post(f"/api/tests/{test['id']}/run", json={"priority": 3}).status_code == 202
    assert launcher.submitted[-1].priority == 3
    assert client.get("/api/runs", params={"testId": test["id"]}).json()["total"] == 3


def test_unknown_stored_test_is_404(client: TestClient, launcher: FakeLauncher) -> None:
    assert client.post("/api/test", json={"testId": "nope"}).status_code == 404
    assert client.post("/api/tests/nope/run").status_code == 404
    assert launcher.submitted == []


def test_run_stored_job_in_order(client: TestClient, launcher: FakeLauncher, db: sessionmaker[Session]) -> None:
    ids = [client.post("/api/tests", json={"title": t, "script": SCRIPT + f"// {t}"}).json()["id"] for t in "ZA"]
    job = client.post("/api/jobs", json={"name": "Suite", "testIds": ids}).json()
    res = client.post("/api/jobs/run", json={"jobId": job["id"]})
    assert res.status_code == 202, res.text
    assert res.json()["statusUrl"].startswith("/api/job-status/sse/jr-")
    request = launcher.submitted[0]
    assert request.kind == "job"
    assert request.job_id == job["id"]
    assert request.title == "Suite"
    assert [s.name for s in request.scripts] == ["z", "a"]  # order is positional
    assert request.scripts[0].script.endswith("// Z")
    with session_scope(db) as session:
        assert session.get(JobRecord, job["id"]).last_run_at is not None  # type: ignore[union-attr]
    assert client.post(f"/api/jobs/{job['id']}/run").status_code == 202


def test_run_inline_job(client: TestClient, launcher: FakeLauncher) -> None:
    tests = [{"name": "login.spec.js", "script": SCRIPT}, {"name": "login.spec.js", "script": SCRIPT}]
    res = client.post("/api/jobs/run", json={"tests": tests, "workers": 2})
    assert res.status_code == 202
    assert [s.name for s in launcher.submitted[0].scripts] == ["login", "login-2"]
    assert launcher.submitted[0].workers == 2


def test_run_inline_job_in_shards(client: TestClient, launcher: FakeLauncher) -> None:
    tests = [{"name": f"t{i}", "script": SCRIPT} for i in range(3)]
    res = client.post("/api/jobs/run", json={"tests": tests, "shards": 3})
    assert res.status_code == 202, res.text
    assert launcher.submitted[0].shards == 3
    assert launcher.submitted[0].spec_dict()["shards"] == 3
    assert "shards" not in RunRequest(kind="job", scripts=launcher.submitted[0].scripts).spec_dict()  # 1: unset
    for bad in (0, 33, "four"):
        refused = client.post("/api/jobs/run", json={"tests": tests, "shards": bad})
        assert refused.status_code == 422, (bad, refused.text)


def test_job_run_validation(client: TestClient, launcher: FakeLauncher) -> None:
    assert client.post("/api/jobs/run", json={}).status_code == 422
    assert client.post("/api/jobs/run", json={"jobId": "x", "tests": []}).status_code == 422
    assert client.post("/api/jobs/run", json={"tests": []}).status_code == 422
    empty = client.post("/api/jobs/run", json={"tests": [{"name": "a", "script": " "}]})
    assert empty.status_code == 422
    assert "tests[0].script is empty" in empty.json()["message"]
    assert client.post("/api/jobs/run", json={"jobId": "nope"}).status_code == 404
    job = client.post("/api/jobs", json={"name": "Empty"}).json()
    no_tests = client.post("/api/jobs/run", json={"jobId": job["id"]})
    assert no_tests.status_code == 422
    assert "no tests" in no_tests.json()["message"]
    assert launcher.submitted == []


def test_queue_full_is_429_with_retry_after(client: TestClient, db: sessionmaker[Session]) -> None:
    for _ in range(3):  # QUEUED_CAPACITY=3 in these tests
        assert client.post("/api/test", json={"script": SCRIPT}).status_code == 202
    res = client.post("/api/test", json={"script": SCRIPT})
    assert res.status_code == 429
    assert res.json()["error"] == "queue_full"
    assert "QUEUED_CAPACITY is 3" in res.json()["message"]
    assert int(res.headers["Retry-After"]) > 0
    assert client.post("/api/jobs/run", json={"tests": [{"name": "a", "script": SCRIPT}]}).status_code == 429
    assert run_count(db) == 3
    metrics = client.get("/metrics").text
    assert 'supertest_run_rejections_total{reason="queue_full"} 2.0' in metrics
    assert 'supertest_runs_submitted_total{kind="test"} 3.0' in metrics


def test_list_runs_filters_and_paging(client: TestClient, db: sessionmaker[Session]) -> None:
    insert_run(db, Phase.PASSED)
    insert_run(db, Phase.FAILED, trigger="schedule")
    insert_run(db, Phase.RUNNING, kind="job")
    insert_run(db, Phase.QUEUED)
    assert client.get("/api/runs").json()["total"] == 4
    both = client.get("/api/runs", params=[("phase", "Passed"), ("phase", "Failed")]).json()
    assert both["total"] == 2
    assert {r["phase"] for r in both["items"]} == {"Passed", "Failed"}
    assert client.get("/api/runs", params={"kind": "job"}).json()["items"][0]["kind"] == "job"
    assert client.get("/api/runs", params={"trigger": "schedule"}).json()["total"] == 1
    page = client.get("/api/runs", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 4
    assert len(page["items"]) == 1
    assert page["limit"] == 1
    assert client.get("/api/runs", params={"limit": 201}).status_code == 422
    bad = client.get("/api/runs", params={"phase": "Sleeping"})
    assert bad.status_code == 422
    assert "query.phase" in bad.json()["message"]


def test_unknown_run_is_404(client: TestClient) -> None:
    res = client.get("/api/runs/tr-000000000000")
    assert res.status_code == 404
    assert res.json()["error"] == "not_found"
    assert "tr-000000000000" in res.json()["message"]
    assert client.post("/api/runs/tr-000000000000/cancel").status_code == 404


def test_cancel(client: TestClient, launcher: FakeLauncher, db: sessionmaker[Session]) -> None:
    run_id = client.post("/api/test", json={"script": SCRIPT}).json()["runId"]
    res = client.post(f"/api/runs/{run_id}/cancel")
    assert res.status_code == 202
    assert res.json()["phase"] == "Cancelled"
    assert launcher.cancelled == [run_id]
    again = client.post(f"/api/runs/{run_id}/cancel")
    assert again.status_code == 409
    assert "already finished as Cancelled" in again.json()["message"]
    done = insert_run(db, Phase.PASSED)
    assert client.post(f"/api/runs/{done}/cancel").status_code == 409


def test_capacity(client: TestClient, db: sessionmaker[Session]) -> None:
    insert_run(db, Phase.RUNNING)
    insert_run(db, Phase.STARTING)
    insert_run(db, Phase.QUEUED)
    insert_run(db, Phase.PASSED)
    assert client.get("/api/capacity").json() == {
        "running": 2,
        "queued": 1,
        "runningCapacity": 2,
        "queuedCapacity": 3,
    }


def test_session_runs_are_manual(anon: TestClient, api_key: str, launcher: FakeLauncher) -> None:
    anon.post("/api/auth/login", json={"apiKey": api_key})
    same_origin = {"Origin": "http://testserver"}
    assert anon.post("/api/test", json={"script": SCRIPT}, headers=same_origin).status_code == 202
    assert launcher.submitted[0].trigger == "manual"
