"""test_results rows: written once per finished run (replaced whole, so a re-mirror adds nothing), read back as
"the last N results of a test" for health and for the shard planner's median durations."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from supertest.db.models import QuarantinedTestRecord, TestResultRecord, utcnow
from supertest.rerun import failed_test_ids
from supertest.testresults import ResultPoint, TestResultRow

# The health window: a test's newest results, at most this many and none older than this.
WINDOW_RESULTS = 50
WINDOW_DAYS = 14


def replace_for_run(session: Session, run_id: str, rows: Sequence[TestResultRow], at: datetime | None = None) -> int:
    """The run's rows become exactly `rows`: idempotent, so mirroring a run twice never duplicates them."""
    session.execute(delete(TestResultRecord).where(TestResultRecord.run_id == run_id))
    created = at or utcnow()
    session.add_all(
        TestResultRecord(
            run_id=run_id,
            test_id=r.test_id,
            file=r.file,
            title=r.title,
            project=r.project,
            status=r.status,
            duration_ms=r.duration_ms,
            retries=r.retries,
            error_head=r.error_head,
            created_at=created,
        )
        for r in rows
    )
    session.flush()
    return len(rows)


def count_for_run(session: Session, run_id: str) -> int:
    stmt = select(func.count()).select_from(TestResultRecord).where(TestResultRecord.run_id == run_id)
    return int(session.execute(stmt).scalar_one())


def for_run(session: Session, run_id: str) -> list[TestResultRecord]:
    stmt = select(TestResultRecord).where(TestResultRecord.run_id == run_id).order_by(TestResultRecord.id)
    return list(session.scalars(stmt))


def failed_ids_for_run(session: Session, run_id: str) -> list[str]:
    """The run's tests to re-run (supertest.rerun.RERUN_STATUSES), in report order."""
    return failed_test_ids((r.test_id, r.status) for r in for_run(session, run_id))


def quarantined_ids(session: Session) -> frozenset[str]:
    return frozenset(session.scalars(select(QuarantinedTestRecord.test_id)))


def put_quarantine(session: Session, test_id: str, reason: str, by: str) -> QuarantinedTestRecord:
    """Quarantine a test, or update its reason and who did it."""
    record = session.get(QuarantinedTestRecord, test_id)
    if record is None:
        record = QuarantinedTestRecord(test_id=test_id, reason=reason, by=by)
        session.add(record)
    else:
        record.reason, record.by = reason, by
    session.flush()
    return record


def _window_start(now: datetime | None, days: int) -> datetime:
    return (now or utcnow()) - timedelta(days=days)


def median_durations(
    session: Session,
    keys: Iterable[str],
    by: Literal["test", "file"] = "test",
    last_n: int = WINDOW_RESULTS,
    days: int = WINDOW_DAYS,
    now: datetime | None = None,
) -> dict[str, float]:
    """Median duration (ms) of each test id (`by="test"`) or file (`by="file"`, a file's duration in a run being
    the sum of its tests there) over its newest `last_n` runs within `days`. Keys with no history are absent;
    skipped results do not count (they took no time and say nothing about it)."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    column = TestResultRecord.test_id if by == "test" else TestResultRecord.file
    stmt = (
        select(column, TestResultRecord.run_id, TestResultRecord.created_at, func.sum(TestResultRecord.duration_ms))
        .where(
            column.in_(wanted),
            TestResultRecord.status != "skipped",
            TestResultRecord.created_at >= _window_start(now, days),
        )
        .group_by(column, TestResultRecord.run_id, TestResultRecord.created_at)
        .order_by(TestResultRecord.created_at.desc())
    )
    per_key: dict[str, list[float]] = defaultdict(list)
    for key, _run, _at, total in session.execute(stmt):
        if len(per_key[key]) < last_n:
            per_key[key].append(float(total or 0))
    return {k: statistics.median(v) for k, v in per_key.items() if v}


def window_points(
    session: Session,
    last_n: int = WINDOW_RESULTS,
    days: int = WINDOW_DAYS,
    now: datetime | None = None,
    test_ids: Sequence[str] | None = None,
) -> dict[str, list[ResultPoint]]:
    """Each test's results in the health window, newest first: at most `last_n`, none older than `days`."""
    stmt = (
        select(
            TestResultRecord.test_id,
            TestResultRecord.run_id,
            TestResultRecord.status,
            TestResultRecord.duration_ms,
            TestResultRecord.created_at,
            TestResultRecord.error_head,
        )
        .where(TestResultRecord.created_at >= _window_start(now, days))
        .order_by(TestResultRecord.created_at.desc(), TestResultRecord.id.desc())
    )
    if test_ids is not None:
        stmt = stmt.where(TestResultRecord.test_id.in_(list(test_ids)))
    out: dict[str, list[ResultPoint]] = defaultdict(list)
    for test_id, run_id, status, duration_ms, at, error_head in session.execute(stmt):
        points = out[test_id]
        if len(points) < last_n:
            points.append(
                ResultPoint(run_id=run_id, status=status, duration_ms=duration_ms, at=at, error_head=error_head)
            )
    return dict(out)
