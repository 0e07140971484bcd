"""TestJobs mirrored into the `jobs` table, so `GET /api/jobs` and the UI show every scheduled job.

The operator calls these on every scheduler pass (and when a TestJob is deleted); they are idempotent and
write nothing when nothing changed. Two kinds of TestJob exist:

* written by the API for one of its own jobs (annotation `supertest.dev/job-id` naming a `managed_by="api"` row):
  the row stays the API's; only the scheduler's bookkeeping (times) and the resource's name are copied back.
* anything else (applied with kubectl, Argo CD, Flux): a read-only `managed_by="gitops"` row whose id is derived
  from the namespace and name, so a restarted operator finds the same row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from supertest.db.models import JobRecord, JobTestRecord, TestRecord, utcnow

MANAGED_BY_API = "api"
MANAGED_BY_GITOPS = "gitops"
TestSource = Literal["inline", "configMap", "stored"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TestJobTest:
    """One entry of a TestJob's spec.tests: its name and where its script comes from."""

    __test__ = False  # not a pytest class

    name: str
    source: TestSource
    test_id: str | None = None


@dataclass(frozen=True, slots=True)
class TestJobMirror:
    """What the operator knows about one TestJob (spec, annotation and status), in the table's terms."""

    __test__ = False  # not a pytest class

    namespace: str
    name: str
    job_id: str | None  # the supertest.dev/job-id annotation (set on TestJobs the API wrote)
    schedule: str
    time_zone: str
    concurrency_policy: str
    starting_deadline_seconds: int | None
    suspend: bool
    successful_runs_history_limit: int
    failed_runs_history_limit: int
    tests: Sequence[TestJobTest]
    description: str = ""
    # spec.notify as stored on the row: [{"channel", "events"?, "failureThreshold"?, "maxAlertsPerStreak"?}].
    notify: Sequence[dict[str, Any]] | None = None
    last_schedule_time: datetime | None = None
    last_run_at: datetime | None = None
    next_run_at: datetime | None = None


def gitops_job_id(namespace: str, name: str) -> str:
    """The row id of a GitOps TestJob: deterministic, 32 characters ("gj" + 30 hex of sha1(namespace/name))."""
    return "gj" + hashlib.sha1(f"{namespace}/{name}".encode(), usedforsecurity=False).hexdigest()[:30]


def mirror_testjob(session: Session, mirror: TestJobMirror) -> str:
    """Bring the row of one TestJob up to date; return the job id (the API's, or the GitOps row's).

    Retried once on a uniqueness conflict: the API writes its row (with k8s_namespace/k8s_name) before it
    creates the TestJob and commits after, so a pass that raced that commit finds the API's row on the retry.
    """
    return _retrying(session, lambda: _mirror(session, mirror))


def forget_testjob(session: Session, namespace: str, name: str) -> None:
    """The TestJob is gone: delete its GitOps row (runs keep their history) or unlink the API's row."""
    for row in _rows_for(session, namespace, name):
        if row.managed_by == MANAGED_BY_GITOPS:
            session.delete(row)
        else:
            row.k8s_namespace = row.k8s_name = None
    gitops = session.get(JobRecord, gitops_job_id(namespace, name))
    if gitops is not None and gitops.managed_by == MANAGED_BY_GITOPS:
        session.delete(gitops)
    session.flush()


def mirrored_testjobs(session: Session) -> list[tuple[str, str]]:
    """(namespace, name) of every GitOps row, so the operator can forget TestJobs deleted while it was down."""
    rows = session.execute(
        select(JobRecord.k8s_namespace, JobRecord.k8s_name)
        .where(
            JobRecord.managed_by == MANAGED_BY_GITOPS,
            JobRecord.k8s_namespace.is_not(None),
            JobRecord.k8s_name.is_not(None),
        )
        .order_by(JobRecord.k8s_namespace, JobRecord.k8s_name)
    )
    return [(str(ns), str(name)) for ns, name in rows]


# -- internals -------------------------------------------------------------------------------------


def _retrying(session: Session, fn: Callable[[], T]) -> T:
    try:
        with session.begin_nested():
            return fn()
    except IntegrityError:
        pass
    with session.begin_nested():
        return fn()


def _mirror(session: Session, mirror: TestJobMirror) -> str:
    api_row = _api_row(session, mirror)
    if api_row is not None:
        if api_row.schedule is None:
            # The API removed the schedule (and the TestJob) after this pass listed it: nothing to copy back.
            return api_row.id
        _claim(session, api_row, mirror.namespace, mirror.name)
        _assign(api_row, _bookkeeping(api_row, mirror))
        session.flush()
        return api_row.id
    job_id = gitops_job_id(mirror.namespace, mirror.name)
    row = session.get(JobRecord, job_id)
    if row is None:
        row = JobRecord(id=job_id, managed_by=MANAGED_BY_GITOPS, name=mirror.name[:200])
        session.add(row)
    _claim(session, row, mirror.namespace, mirror.name)
    changed = _assign(
        row,
        {
            "managed_by": MANAGED_BY_GITOPS,
            "name": mirror.name[:200],
            "description": mirror.description,
            "schedule": mirror.schedule,
            "time_zone": mirror.time_zone,
            "concurrency_policy": mirror.concurrency_policy,
            "starting_deadline_seconds": mirror.starting_deadline_seconds,
            "suspend": mirror.suspend,
            "successful_runs_history_limit": mirror.successful_runs_history_limit,
            "failed_runs_history_limit": mirror.failed_runs_history_limit,
            "k8s_namespace": mirror.namespace,
            "k8s_name": mirror.name,
            "inline_tests": [_test_entry(t) for t in mirror.tests],
            "notify": [dict(n) for n in mirror.notify] if mirror.notify else None,
            **_bookkeeping(row, mirror),
        },
    )
    changed |= _link_stored_tests(session, row, mirror.tests)
    if changed and row.created_at is not None:
        row.updated_at = utcnow()
    session.flush()
    return row.id


def _api_row(session: Session, mirror: TestJobMirror) -> JobRecord | None:
    """The API's row this TestJob belongs to: by its job-id annotation, else by the resource it records."""
    if mirror.job_id:
        row = session.get(JobRecord, mirror.job_id)
        if row is not None and row.managed_by == MANAGED_BY_API:
            return row
    for row in _rows_for(session, mirror.namespace, mirror.name):
        if row.managed_by == MANAGED_BY_API:
            return row
    return None


def _rows_for(session: Session, namespace: str, name: str) -> list[JobRecord]:
    stmt = select(JobRecord).where(and_(JobRecord.k8s_namespace == namespace, JobRecord.k8s_name == name))
    return list(session.execute(stmt).scalars())


def _claim(session: Session, owner: JobRecord, namespace: str, name: str) -> None:
    """Make `owner` the only row naming this TestJob: a stale GitOps row goes, an API row is unlinked."""
    for row in _rows_for(session, namespace, name):
        if row is owner:
            continue
        if row.managed_by == MANAGED_BY_GITOPS:
            session.delete(row)
        else:
            row.k8s_namespace = row.k8s_name = None
    if owner.managed_by == MANAGED_BY_API:
        gitops = session.get(JobRecord, gitops_job_id(namespace, name))
        if gitops is not None and gitops.managed_by == MANAGED_BY_GITOPS:
            session.delete(gitops)
    session.flush()
    _assign(owner, {"k8s_namespace": namespace, "k8s_name": name})


def _bookkeeping(row: JobRecord, mirror: TestJobMirror) -> dict[str, Any]:
    # A TestJob's status starts empty: an unknown time never erases one the row already knows.
    return {
        "last_schedule_time": mirror.last_schedule_time or row.last_schedule_time,
        "last_run_at": mirror.last_run_at or row.last_run_at,
        "next_run_at": mirror.next_run_at,
    }


def _assign(row: JobRecord, values: dict[str, Any]) -> bool:
    """Set only what differs (an unchanged row is not written); True when something changed."""
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def _test_entry(test: TestJobTest) -> dict[str, str]:
    entry = {"name": test.name, "source": test.source}
    if test.source == "stored" and test.test_id:
        entry["testId"] = test.test_id
    return entry


def _link_stored_tests(session: Session, row: JobRecord, tests: Sequence[TestJobTest]) -> bool:
    wanted = [t.test_id for t in tests if t.source == "stored" and t.test_id]
    existing = (
        set(session.execute(select(TestRecord.id).where(TestRecord.id.in_(wanted))).scalars()) if wanted else set()
    )
    linked = [tid for tid in wanted if tid in existing]  # a dangling testId is listed (inline_tests), not linked
    if [jt.test_id for jt in row.tests] == linked:
        return False
    row.tests.clear()
    session.flush()
    row.tests.extend(JobTestRecord(position=i, test_id=tid) for i, tid in enumerate(linked))
    return True
