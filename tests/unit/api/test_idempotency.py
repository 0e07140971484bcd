"""The Idempotency-Key contract of the submit routes (in-process bus, fake launcher, real SQLite)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from supertest.db import apikeys
from supertest.db.engine import session_scope
from supertest.db.models import RunRecord
from tests.unit.api.conftest import FakeLauncher

SCRIPT = "import { test } from '@playwright/test';\ntest('ok', async () => {});\n"


def runs(db: sessionmaker[Session]) -> list[RunRecord]:
    with session_scope(db) as session:
        return list(session.query(RunRecord).all())


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/test", {"script": SCRIPT, "title": "Smoke"}),
        ("/api/jobs/run", {"tests": [{"name": "a", "script": SCRIPT}], "workers": 1}),
    ],
)
def test_a_retry_with_the_same_key_and_request_returns_the_same_run(
    client: TestClient, launcher: FakeLauncher, db: sessionmaker[Session], path: str, body: dict[str, object]
) -> None:
    first = client.post(path, json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 202, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = client.post(path, json=body, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 202, again.text
    assert again.json()["runId"] == first.json()["runId"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(launcher.submitted) == 1
    [row] = runs(db)
    assert (row.id, row.idempotency_key) == (first.json()["runId"], "k-1")


def test_the_same_request_in_another_json_spelling_is_the_same_request(
    client: TestClient, launcher: FakeLauncher
) -> None:
    first = client.post("/api/test", json={"script": SCRIPT, "priority": 0}, headers={"Idempotency-Key": "k-2"})
    # Same fields in another order, a default spelled out or left out: the parsed request is what is compared.
    raw = '{"priority": 0, "script": ' + json.dumps(SCRIPT) + "}"
    again = client.post(
        "/api/test", content=raw, headers={"Idempotency-Key": '"k-2"', "Content-Type": "application/json"}
    )
    assert again.status_code == 202, again.text
    assert again.json()["runId"] == first.json()["runId"]
    assert len(launcher.submitted) == 1


def test_the_same_key_with_a_different_request_is_422_and_stores_nothing(
    client: TestClient, launcher: FakeLauncher, db: sessionmaker[Session]
) -> None:
    first = client.post("/api/test", json={"script": SCRIPT}, headers={"Idempotency-Key": "k-3"})
    other = client.post("/api/test", json={"script": SCRIPT, "priority": 9}, headers={"Idempotency-Key": "k-3"})
    assert other.status_code == 422
    body = other.json()
    assert body["error"] == "idempotency_key_reused"
    assert "different request" in body["message"]
    assert body["details"]["runId"] == first.json()["runId"]
    # The same key on the other submit route is a different request too.
    job = client.post(
        "/api/jobs/run", json={"tests": [{"name": "a", "script": SCRIPT}]}, headers={"Idempotency-Key": "k-3"}
    )
    assert job.status_code == 422
    assert len(runs(db)) == 1
    assert len(launcher.submitted) == 1


def test_keys_are_scoped_per_api_key_and_optional(
    client: TestClient, launcher: FakeLauncher, db: sessionmaker[Session]
) -> None:
    with session_scope(db) as session:
        _, other_key = apikeys.create_key(session, "someone-else")
    mine = client.post("/api/test", json={"script": SCRIPT}, headers={"Idempotency-Key": "shared"})
    theirs = client.post(
        "/api/test",
        json={"script": SCRIPT},
        headers={"Idempotency-Key": "shared", "Authorization": f"Bearer {other_key}"},
    )
    assert mine.status_code == theirs.status_code == 202
    assert mine.json()["runId"] != theirs.json()["runId"]
    # Without a key, the very same request is a new run, as before.
    plain = client.post("/api/test", json={"script": SCRIPT})
    assert plain.status_code == 202
    assert plain.json()["runId"] not in (mine.json()["runId"], theirs.json()["runId"])
    assert len(runs(db)) == 3


@pytest.mark.parametrize("bad", ["", "   ", "x" * 256, "caf\u00e9", '""'])
def test_a_malformed_key_is_a_clear_422(client: TestClient, launcher: FakeLauncher, bad: str) -> None:
    res = client.post("/api/test", json={"script": SCRIPT}, headers={"Idempotency-Key": bad.encode("utf-8")})  # type: ignore[dict-item]
    assert res.status_code == 422, res.text
    assert "Idempotency-Key must be 1-255 printable ASCII characters" in res.json()["message"]
    assert launcher.submitted == []


def test_stored_test_and_job_runs_honour_the_key(client: TestClient, launcher: FakeLauncher) -> None:
    test_id = client.post("/api/tests", json={"title": "T", "script": SCRIPT}).json()["id"]
    job_id = client.post("/api/jobs", json={"name": "J", "testIds": [test_id]}).json()["id"]
    first = client.post(f"/api/tests/{test_id}/run", headers={"Idempotency-Key": "stored"})
    again = client.post(f"/api/tests/{test_id}/run", headers={"Idempotency-Key": "stored"})
    assert first.status_code == again.status_code == 202
    assert again.json()["runId"] == first.json()["runId"]
    # The same key on another route is another request.
    job = client.post(f"/api/jobs/{job_id}/run", headers={"Idempotency-Key": "stored"})
    assert job.status_code == 422
    assert job.json()["error"] == "idempotency_key_reused"
    assert len(launcher.submitted) == 1
