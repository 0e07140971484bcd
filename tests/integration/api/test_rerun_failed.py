"""POST /api/runs/{id}/rerun?only=failed on real Postgres: the new run holds exactly the failed tests of the
original (spec.onlyTests), is linked to it (rerunOf) and keeps its scripts; refusals are clear 4xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from supertest_api.app import create_app

from supertest.bus.memory import MemoryEventBus
from supertest.db import apikeys, test_results
from supertest.db.engine import session_scope
from supertest.db.models import RunRecord
from supertest.rerun import MAX_ONLY_TESTS
from supertest.settings import ApiSettings
from supertest.testresults import TestResultRow
from tests.unit.api.conftest import FakeLauncher

SPEC = {"tests": [{"name": "01-cart", "script": "// s", "language": "javascript"}], "priority": 2, "testRetries": 1}


@pytest.fixture
def launcher(pg_settings: ApiSettings) -> FakeLauncher:
    return FakeLauncher(pg_settings, MemoryEventBus())


@pytest.fixture
def api(pg_settings: ApiSettings, pg: sessionmaker[Session], launcher: FakeLauncher) -> Iterator[TestClient]:
    with session_scope(pg) as s:
        _, key = apikeys.create_key(s, "rerun-tests")
    with TestClient(create_app(pg_settings, launcher, bus=launcher.bus)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


def row(test_id: str, status: str) -> TestResultRow:
    file, title = test_id.split(" > ", 1)
    return TestResultRow(test_id, file, title, "chromium", status, 10, 0, None)  # type: ignore[arg-type]


def add_run(pg: sessionmaker[Session], run_id: str, phase: str, statuses: dict[str, str]) -> None:
    with session_scope(pg) as s:
        s.add(RunRecord(id=run_id, kind="job", phase=phase, title="cart suite", priority=2, spec=SPEC))
        s.flush()
        test_results.replace_for_run(s, run_id, [row(t, st) for t, st in statuses.items()])


def test_rerun_failed_starts_a_linked_run_of_exactly_the_failed_tests(
    api: TestClient, pg: sessionmaker[Session], launcher: FakeLauncher
):
    add_run(
        pg,
        "jr-orig",
        "Failed",
        {
            "01-cart.spec.js > adds": "passed",
            "01-cart.spec.js > removes": "failed",
            "01-cart.spec.js > pays": "timedOut",
            "01-cart.spec.js > wobbles": "flaky",
            "01-cart.spec.js > muted": "quarantined",
        },
    )
    response = api.post("/api/runs/jr-orig/rerun", params={"only": "failed"})
    assert response.status_code == 202, response.text
    new_id = response.json()["runId"]
    assert new_id != "jr-orig"

    run = api.get(f"/api/runs/{new_id}").json()
    assert run["rerunOf"] == "jr-orig"
    assert run["onlyTests"] == ["01-cart.spec.js > removes", "01-cart.spec.js > pays"]
    assert run["kind"] == "job" and run["priority"] == 2
    (request,) = launcher.submitted
    spec = request.spec_dict()
    # The original's scripts, names and options as they ran, so the test ids match in the new run.
    assert spec["tests"] == SPEC["tests"] and spec["testRetries"] == 1
    assert api.get("/api/runs/jr-orig").json()["rerunOf"] is None


def test_rerun_refusals_are_clear(api: TestClient, pg: sessionmaker[Session], launcher: FakeLauncher):
    add_run(pg, "jr-running", "Running", {})
    add_run(pg, "jr-green", "Passed", {"01-cart.spec.js > adds": "passed", "01-cart.spec.js > w": "flaky"})
    add_run(pg, "jr-huge", "Failed", {f"01-cart.spec.js > t{i}": "failed" for i in range(MAX_ONLY_TESTS + 1)})

    running = api.post("/api/runs/jr-running/rerun", params={"only": "failed"})
    assert running.status_code == 409 and "only a finished run" in running.json()["message"]
    green = api.post("/api/runs/jr-green/rerun", params={"only": "failed"})
    assert green.status_code == 409 and "no failed tests" in green.json()["message"]
    huge = api.post("/api/runs/jr-huge/rerun", params={"only": "failed"})
    assert huge.status_code == 400 and f"at most {MAX_ONLY_TESTS}" in huge.json()["message"]
    assert api.post("/api/runs/nope/rerun", params={"only": "failed"}).status_code == 404
    assert api.post("/api/runs/jr-green/rerun", params={"only": "everything"}).status_code == 422
    assert api.post("/api/runs/jr-green/rerun").status_code == 422  # `only` is required: the intent is explicit
    assert launcher.submitted == []
