"""Health of every test with results in the window, computed from its newest results (supertest.testresults)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from supertest.db.catalog import NotFound
from supertest.db.models import QuarantinedTestRecord
from supertest.db.test_results import WINDOW_DAYS, WINDOW_RESULTS
from supertest.testresults import TEST_ID_SEPARATOR, TestHealth, health
from supertest_api.testhealth import repository
from supertest_api.testhealth.schemas import (
    HealthOnly,
    HealthSort,
    LastFailureOut,
    QuarantineOut,
    TestHealthListOut,
    TestHealthOut,
)


@dataclass(frozen=True, slots=True)
class HealthQuery:
    sort: HealthSort = "flakyRate"
    descending: bool = True
    q: str | None = None
    file: str | None = None
    only: HealthOnly | None = None
    limit: int = 50
    offset: int = 0
    window_results: int = WINDOW_RESULTS
    window_days: int = WINDOW_DAYS


_SORT_KEYS: dict[str, Callable[[TestHealth], Any]] = {
    "testId": lambda h: h.test_id,
    "passRate": lambda h: h.pass_rate,
    "flakyRate": lambda h: h.flaky_rate,
    "medianMs": lambda h: h.median_ms,
    "p95Ms": lambda h: h.p95_ms,
    "runs": lambda h: h.runs,
    "lastFailureAt": lambda h: h.last_failure_at,
}


def _file_of(test_id: str) -> str:
    return test_id.split(TEST_ID_SEPARATOR, 1)[0]


def _keep(h: TestHealth, query: HealthQuery, quarantined: frozenset[str]) -> bool:
    if query.q and query.q.lower() not in h.test_id.lower():
        return False
    if query.file and _file_of(h.test_id) != query.file:
        return False
    if query.only == "flaky":
        return h.flaky > 0
    if query.only == "failing":
        return h.failed > 0
    if query.only == "quarantined":
        return h.test_id in quarantined
    return True


def _sorted(items: list[TestHealth], query: HealthQuery) -> list[TestHealth]:
    key = _SORT_KEYS[query.sort]
    # Tests without a value (no executed result) go last in either direction; ties by test id, stable pages.
    present = sorted((h for h in items if key(h) is not None), key=lambda h: h.test_id)
    present.sort(key=key, reverse=query.descending)
    return present + sorted((h for h in items if key(h) is None), key=lambda h: h.test_id)


def health_out(h: TestHealth, quarantined: frozenset[str], run_url: Callable[[str], str]) -> TestHealthOut:
    last = None
    if h.last_failure_run is not None and h.last_failure_at is not None:
        last = LastFailureOut(
            at=h.last_failure_at,
            run_id=h.last_failure_run,
            run_url=run_url(h.last_failure_run),
            message=h.last_failure_message,
        )
    return TestHealthOut(
        test_id=h.test_id,
        file=_file_of(h.test_id),
        runs=h.runs,
        passed=h.passed,
        failed=h.failed,
        flaky=h.flaky,
        pass_rate=h.pass_rate,
        flaky_rate=h.flaky_rate,
        median_ms=h.median_ms,
        p95_ms=h.p95_ms,
        durations_ms=h.durations_ms,
        last_failure=last,
        quarantined=h.test_id in quarantined,
    )


def list_health(
    session: Session, query: HealthQuery, run_url: Callable[[str], str], now: datetime | None = None
) -> TestHealthListOut:
    points = repository.window_points(session, query.window_results, query.window_days, now)
    quarantined = repository.quarantined_ids(session)
    items = [h for h in (health(t, p) for t, p in points.items()) if _keep(h, query, quarantined)]
    ordered = _sorted(items, query)
    page = ordered[query.offset : query.offset + query.limit]
    return TestHealthListOut(
        items=[health_out(h, quarantined, run_url) for h in page],
        total=len(ordered),
        limit=query.limit,
        offset=query.offset,
        window_results=query.window_results,
        window_days=query.window_days,
    )


def quarantine_out(r: QuarantinedTestRecord) -> QuarantineOut:
    return QuarantineOut(test_id=r.test_id, reason=r.reason, by=r.by, created_at=r.created_at)


def list_quarantine(session: Session) -> list[QuarantineOut]:
    return [quarantine_out(r) for r in repository.list_quarantine(session)]


def quarantine(session: Session, test_id: str, reason: str, by: str) -> QuarantineOut:
    return quarantine_out(repository.put_quarantine(session, test_id, reason, by))


def release(session: Session, test_id: str) -> None:
    record = repository.get_quarantine(session, test_id)
    if record is None:
        raise NotFound("quarantined test", test_id)
    repository.delete_quarantine(session, record)
