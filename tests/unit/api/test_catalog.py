from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from supertest.db.engine import session_scope
from supertest.db.models import JobRecord

SCRIPT = "import { test } from '@playwright/test';\ntest('ok', async () => {});\n"


def make_test(client: TestClient, title: str = "Login works", tags: list[str] | None = None) -> dict[str, object]:
    res = client.post("/api/tests", json={"title": title, "script": SCRIPT, "tags": tags or []})
    assert res.status_code == 201, res.text
    return dict(res.json())


def test_tests_crud(client: TestClient) -> None:
    created = make_test(client, "Login works", ["smoke", "smoke", "auth"])
    assert created["tags"] == ["smoke", "auth"]
    assert created["language"] == "javascript"
    assert "createdAt" in created
    assert "updatedAt" in created
    test_id = created["id"]

    got = client.get(f"/api/tests/{test_id}").json()
    assert got["script"] == SCRIPT

    put = client.put(
        f"/api/tests/{test_id}", json={"title": "Login", "script": SCRIPT + "//2", "language": "typescript"}
    )
    assert put.status_code == 200
    assert put.json()["language"] == "typescript"
    assert put.json()["tags"] == []

    patch = client.patch(f"/api/tests/{test_id}", json={"tags": ["x"]})
    assert patch.status_code == 200
    assert patch.json()["title"] == "Login"
    assert patch.json()["tags"] == ["x"]

    assert client.delete(f"/api/tests/{test_id}").status_code == 204
    assert client.get(f"/api/tests/{test_id}").status_code == 404


def test_tests_list_filters(client: TestClient) -> None:
    make_test(client, "Checkout flow", ["smoke"])
    make_test(client, "Login flow", ["auth"])
    make_test(client, "Search", ["smoke"])
    everything = client.get("/api/tests").json()
    assert everything["total"] == 3
    assert "script" not in everything["items"][0]
    assert {t["title"] for t in client.get("/api/tests", params={"q": "FLOW"}).json()["items"]} == {
        "Checkout flow",
        "Login flow",
    }
    assert {t["title"] for t in client.get("/api/tests", params={"tag": "smoke"}).json()["items"]} == {
        "Checkout flow",
        "Search",
    }


def test_test_validation(client: TestClient) -> None:
    empty = client.post("/api/tests", json={"title": "t", "script": "  \n\t"})
    assert empty.status_code == 422
    assert empty.json()["message"] == "script is empty"

    big = client.post("/api/tests", json={"title": "t", "script": "x" * 5000})
    assert big.status_code == 413
    assert "4096" in big.json()["message"]
    assert "MAX_SCRIPT_BYTES" in big.json()["message"]

    lang = client.post("/api/tests", json={"title": "t", "script": SCRIPT, "language": "cobol"})
    assert lang.status_code == 422
    assert "body.language" in lang.json()["message"]
    assert "cobol" not in str(lang.json())  # inputs are not echoed

    missing = client.post("/api/tests", json={"script": SCRIPT})
    assert missing.status_code == 422
    assert "body.title: Field required" in missing.json()["message"]

    assert client.get("/api/tests").json()["total"] == 0


def test_unknown_test_is_404(client: TestClient) -> None:
    for method in ("get", "delete"):
        res = client.request(method.upper(), "/api/tests/doesnotexist")
        assert res.status_code == 404
        assert res.json()["error"] == "not_found"
    assert client.patch("/api/tests/doesnotexist", json={"title": "x"}).status_code == 404


def test_jobs_crud_with_schedule(client: TestClient) -> None:
    a, b = make_test(client, "A"), make_test(client, "B")
    res = client.post(
        "/api/jobs",
        json={"name": "Nightly", "schedule": "0 3 * * *", "timeZone": "Europe/Berlin", "testIds": [b["id"], a["id"]]},
    )
    assert res.status_code == 201, res.text
    job = res.json()
    assert job["testIds"] == [b["id"], a["id"]]
    assert [t["title"] for t in job["tests"]] == ["B", "A"]
    next_run = datetime.fromisoformat(job["nextRunAt"])
    assert next_run > datetime.now(UTC)
    assert next_run.astimezone(UTC).hour in (1, 2)  # 03:00 in Berlin is 01:00 or 02:00 UTC

    patched = client.patch(f"/api/jobs/{job['id']}", json={"schedule": "", "testIds": [a["id"]]}).json()
    assert patched["schedule"] is None
    assert patched["nextRunAt"] is None
    assert patched["testIds"] == [a["id"]]

    assert client.get("/api/jobs", params={"q": "night"}).json()["total"] == 1
    assert client.put(f"/api/jobs/{job['id']}", json={"name": "Renamed", "testIds": []}).json()["name"] == "Renamed"
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 204
    assert client.get(f"/api/jobs/{job['id']}").status_code == 404


def test_job_cron_and_zone_validation(client: TestClient) -> None:
    for bad in ("not a cron", "61 * * * *", "* * * * * *", "*/5 * *"):
        res = client.post("/api/jobs", json={"name": "j", "schedule": bad})
        assert res.status_code == 422, bad
        assert "schedule" in res.json()["message"]
        assert "cron" in res.json()["message"]
    zone = client.post("/api/jobs", json={"name": "j", "schedule": "@daily", "timeZone": "Mars/Olympus"})
    assert zone.status_code == 422
    assert "time zone" in zone.json()["message"]
    assert client.post("/api/jobs", json={"name": "j", "schedule": "@hourly"}).status_code == 201


def test_job_with_unknown_test_is_422_and_not_stored(client: TestClient) -> None:
    res = client.post("/api/jobs", json={"name": "j", "testIds": ["nope"]})
    assert res.status_code == 422
    assert "testIds" in res.json()["message"]
    assert "nope" in res.json()["message"]
    assert client.get("/api/jobs").json()["total"] == 0


def test_deleting_a_test_used_by_a_job_conflicts(client: TestClient) -> None:
    a = make_test(client, "A")
    job = client.post("/api/jobs", json={"name": "j", "testIds": [a["id"]]}).json()
    res = client.delete(f"/api/tests/{a['id']}")
    assert res.status_code == 409
    assert job["id"] in res.json()["message"]


def test_deleting_tests_and_jobs_keeps_their_run_history(client: TestClient) -> None:
    test = make_test(client, "A")
    job = client.post("/api/jobs", json={"name": "j", "testIds": [test["id"]]}).json()
    job_run = client.post(f"/api/jobs/{job['id']}/run").json()["runId"]
    test_run = client.post(f"/api/tests/{test['id']}/run").json()["runId"]
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 204
    assert client.delete(f"/api/tests/{test['id']}").status_code == 204
    assert client.get(f"/api/runs/{job_run}").json()["jobId"] is None
    assert client.get(f"/api/runs/{test_run}").json()["testId"] is None


def test_jobs_managed_elsewhere_are_read_only(client: TestClient, db: sessionmaker[Session]) -> None:
    job = client.post("/api/jobs", json={"name": "from git"}).json()
    with session_scope(db) as session:
        record = session.get(JobRecord, job["id"])
        assert record is not None
        record.managed_by = "testjob"
    res = client.patch(f"/api/jobs/{job['id']}", json={"name": "edited"})
    assert res.status_code == 409
    assert "managed by testjob" in res.json()["message"]
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 409
    assert client.post(f"/api/jobs/{job['id']}/run").status_code == 422  # readable and runnable, but empty
