"""TestJobs mirrored into the `jobs` table: GitOps TestJobs become read-only jobs; API ones get their schedule times."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from supertest.db import testjobs as rows
from supertest.db.engine import in_session
from supertest.kube.models import TestJobSpec, TestJobStatus, parse_time
from supertest_operator.testjob import OwnedRun, TestJobView

log = structlog.get_logger("supertest.operator.testjob_mirror")
T = TypeVar("T")


def mirror_of(
    view: TestJobView, spec: TestJobSpec, status: TestJobStatus, runs: Sequence[OwnedRun]
) -> rows.TestJobMirror:
    """The row as the TestJob states it (pure)."""
    created = [r.created for r in runs if r.created is not None]
    last_schedule = parse_time(status.last_schedule_time)
    last_run = max([*created, *([last_schedule] if last_schedule else [])], default=None)
    tests = [
        rows.TestJobTest(
            name=t.name,
            source="stored" if t.test_id is not None else "configMap" if t.script_from is not None else "inline",
            test_id=t.test_id,
        )
        for t in spec.tests
    ]
    return rows.TestJobMirror(
        namespace=view.ref.namespace,
        name=view.name,
        job_id=view.api_job_id,
        schedule=spec.schedule,
        time_zone=spec.time_zone,
        concurrency_policy=spec.concurrency_policy,
        starting_deadline_seconds=spec.starting_deadline_seconds,
        suspend=spec.suspend,
        successful_runs_history_limit=spec.successful_runs_history_limit,
        failed_runs_history_limit=spec.failed_runs_history_limit,
        tests=tests,
        notify=[n.model_dump(by_alias=True, exclude_none=True) for n in spec.notify] or None,
        last_schedule_time=last_schedule,
        last_run_at=last_run,
        next_run_at=parse_time(status.next_schedule_time),
    )


async def _db(sessions: sessionmaker[Session] | None, fn: Callable[[Session], T]) -> T | None:
    if sessions is None:
        return None
    try:
        return await in_session(sessions, fn)
    except SQLAlchemyError as exc:  # history lags; scheduling must not stop for a database outage
        log.warning("testjob_mirror_failed", error=str(exc))
        return None


# (namespace, testjob) -> what was last written to its `jobs` row, so an unchanged TestJob costs no write.
Written = dict[tuple[str, str], Any]


async def mirror(
    sessions: sessionmaker[Session] | None,
    written: Written,
    view: TestJobView,
    spec: TestJobSpec,
    status: TestJobStatus,
    runs: Sequence[OwnedRun],
) -> None:
    row = mirror_of(view, spec, status, runs)
    if written.get(view.ref.key) == row:
        return
    if await _db(sessions, lambda s: rows.mirror_testjob(s, row)) is not None:
        written[view.ref.key] = row


async def forget_vanished(
    sessions: sessionmaker[Session] | None, namespaces: Sequence[str], written: Written, present: set[tuple[str, str]]
) -> None:
    """Rows of GitOps TestJobs deleted (also while the operator was down) are removed; runs keep their history."""
    scope = set(namespaces)
    mirrored = await _db(sessions, rows.mirrored_testjobs)
    for namespace, name in mirrored or []:
        if (namespace, name) in present or (scope and namespace not in scope):
            continue
        await _db(sessions, partial(rows.forget_testjob, namespace=namespace, name=name))
        written.pop((namespace, name), None)
        log.info("testjob_forgotten", namespace=namespace, testjob=name)
