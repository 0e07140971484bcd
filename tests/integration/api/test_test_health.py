"""GET /api/tests/health and the quarantine API on real Postgres, over rows as the recorder writes them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from supertest_api.app import create_app

from supertest.bus.memory import MemoryEventBus
from supertest.db import apikeys, test_results
from supertest.db.engine import session_scope
from supertest.db.models import RunRecord
from supertest.settings import ApiSettings
from supertest.testresults import TestResultRow
from tests.unit.api.conftest import FakeLauncher

FLAKY = "cart.spec.js > cart > adds an item"
STEADY = "cart.spec.js > loads"
BROKEN = "login.spec.js > signs in"


@pytest.fixture
def api(pg_settings: ApiSettings, pg: sessionmaker[Session]) -> Iterator[TestClient]:
    with session_scope(pg) as s:
        _, key = apikeys.create_key(s, "health-tests")
    bus = MemoryEventBus()
    with TestClient(create_app(pg_settings, FakeLauncher(pg_settings, bus), bus=bus)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


def row(test_id: str, status: str, ms: int, error: str | None = None) -> TestResultRow:
    file, title = test_id.split(" > ", 1)
    return TestResultRow(test_id, file, title, "chromium", status, ms, 1 if status == "flaky" else 0, error)  # type: ignore[arg-type]


def seed(pg: sessionmaker[Session]) -> None:
    """Ten runs, newest last: FLAKY is flaky in 3, BROKEN fails in the last 2, and a 20-day-old run is out."""
    now = datetime.now(UTC)
    with session_scope(pg) as s:
        for i in range(10):
            run_id = f"run-{i}"
            s.add(RunRecord(id=run_id, kind="job", phase="Passed", title=run_id))
            s.flush()
            rows = [
                row(FLAKY, "flaky" if i in (2, 5, 8) else "passed", 1000 + 100 * i),
                row(STEADY, "passed", 50),
                row(BROKEN, "failed" if i >= 8 else "passed", 200, f"Error: boom in {run_id}" if i >= 8 else None),
            ]
            test_results.replace_for_run(s, run_id, rows, at=now - timedelta(hours=10 - i))
        s.add(RunRecord(id="run-ancient", kind="job", phase="Failed", title="old"))
        s.flush()
        test_results.replace_for_run(
            s, "run-ancient", [row(STEADY, "failed", 9999, "old")], at=now - timedelta(days=20)
        )


def test_health_rates_durations_and_last_failure(api: TestClient, pg: sessionmaker[Session]):
    seed(pg)
    body = api.get("/api/tests/health").json()
    assert (body["total"], body["windowResults"], body["windowDays"]) == (3, 50, 14)
    # Default order: flakiest first.
    assert [i["testId"] for i in body["items"]][:1] == [FLAKY]
    items = {i["testId"]: i for i in body["items"]}
    flaky = items[FLAKY]
    assert (flaky["runs"], flaky["flaky"], flaky["passRate"]) == (10, 3, 1.0)
    assert flaky["flakyRate"] == pytest.approx(0.3)
    assert flaky["medianMs"] == pytest.approx(1450)
    assert flaky["p95Ms"] == pytest.approx(1855)
    assert flaky["durationsMs"] == [1000 + 100 * i for i in range(10)]
    assert flaky["lastFailure"] is None and flaky["file"] == "cart.spec.js"
    broken = items[BROKEN]
    assert (broken["failed"], broken["passRate"]) == (2, pytest.approx(0.8))
    assert broken["lastFailure"]["runId"] == "run-9"
    assert broken["lastFailure"]["message"] == "Error: boom in run-9"
    assert broken["lastFailure"]["runUrl"].endswith("/runs/run-9")
    # The 20-day-old failure is outside the 14-day window.
    assert (items[STEADY]["runs"], items[STEADY]["lastFailure"]) == (10, None)


def test_health_sorts_filters_and_pages(api: TestClient, pg: sessionmaker[Session]):
    seed(pg)

    def ids(**params: object) -> list[str]:
        response = api.get("/api/tests/health", params=params)
        assert response.status_code == 200, response.text
        return [i["testId"] for i in response.json()["items"]]

    assert ids(sort="medianMs", order="asc") == [STEADY, BROKEN, FLAKY]
    assert ids(sort="passRate", order="asc") == [BROKEN, FLAKY, STEADY]  # a tie goes by test id
    assert ids(sort="passRate", order="desc") == [FLAKY, STEADY, BROKEN]
    assert ids(only="flaky") == [FLAKY]
    assert ids(only="failing") == [BROKEN]
    assert ids(file="cart.spec.js", sort="testId", order="asc") == [FLAKY, STEADY]
    assert ids(q="SIGNS") == [BROKEN]
    assert ids(sort="testId", order="asc", limit=1, offset=1) == [STEADY]
    assert ids(windowResults=2, only="flaky") == [FLAKY]  # run-8 is among the newest two
    assert ids(windowResults=1, only="flaky") == []
    page = api.get("/api/tests/health", params={"limit": 1}).json()
    assert (page["total"], len(page["items"])) == (3, 1)


@pytest.mark.parametrize(
    "params", [{"sort": "nope"}, {"order": "up"}, {"limit": 0}, {"limit": 501}, {"offset": -1}, {"only": "x"}]
)
def test_health_refuses_bad_parameters_with_a_4xx(api: TestClient, params: dict[str, object]):
    response = api.get("/api/tests/health", params=params)
    assert response.status_code in (400, 422), response.text


def test_quarantine_set_shown_and_released(api: TestClient, pg: sessionmaker[Session]):
    seed(pg)
    path = "/api/tests/quarantine/" + quote(BROKEN, safe="")
    put = api.put(path, json={"reason": "backend bug #42"})
    assert put.status_code == 200, put.text
    assert put.json()["testId"] == BROKEN
    assert (put.json()["reason"], put.json()["by"]) == ("backend bug #42", "health-tests")
    assert api.put(path, json={"reason": "still"}).json()["reason"] == "still"  # idempotent, updates the reason
    assert api.put(path, json={"reason": "x", "extra": 1}).status_code in (400, 422)
    assert api.put(path, json={"reason": ""}).status_code in (400, 422)
    listed = api.get("/api/tests/quarantine").json()
    assert [i["testId"] for i in listed["items"]] == [BROKEN]
    health = {i["testId"]: i for i in api.get("/api/tests/health").json()["items"]}
    assert health[BROKEN]["quarantined"] is True and health[FLAKY]["quarantined"] is False
    assert [i["testId"] for i in api.get("/api/tests/health", params={"only": "quarantined"}).json()["items"]] == [
        BROKEN
    ]
    assert api.delete(path).status_code == 204
    assert api.delete(path).status_code == 404
    assert api.get("/api/tests/quarantine").json()["total"] == 0


def test_health_needs_a_key(pg_settings: ApiSettings):
    bus = MemoryEventBus()
    with TestClient(create_app(pg_settings, FakeLauncher(pg_settings, bus), bus=bus)) as anon:
        assert anon.get("/api/tests/health").status_code == 401
