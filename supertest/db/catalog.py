"""Stored tests and jobs (the catalogue people build in the UI or API)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from supertest.db.ids import new_id
from supertest.db.models import JobRecord, JobTestRecord, TestRecord, utcnow


class NotFound(LookupError):
    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} not found")
        self.kind = kind
        self.ident = ident


def get_test(session: Session, test_id: str) -> TestRecord:
    test = session.get(TestRecord, test_id)
    if test is None:
        raise NotFound("test", test_id)
    return test


def list_tests(session: Session, query: str | None = None, tag: str | None = None) -> list[TestRecord]:
    stmt = select(TestRecord).order_by(TestRecord.updated_at.desc())
    if query:
        stmt = stmt.where(func.lower(TestRecord.title).contains(query.lower()))
    tests = list(session.execute(stmt).scalars())
    if tag:
        # Tags are a JSON list; filtering in Python keeps SQLite and Postgres identical.
        tests = [t for t in tests if tag in (t.tags or [])]
    return tests


def create_test(session: Session, title: str, script: str, language: str, tags: Sequence[str]) -> TestRecord:
    test = TestRecord(id=new_id(), title=title, script=script, language=language, tags=list(tags))
    session.add(test)
    session.flush()
    return test


def count_tests(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(TestRecord)).scalar_one())


def get_job(session: Session, job_id: str) -> JobRecord:
    job = session.get(JobRecord, job_id)
    if job is None:
        raise NotFound("job", job_id)
    return job


def list_jobs(session: Session, query: str | None = None) -> list[JobRecord]:
    stmt = select(JobRecord).order_by(JobRecord.updated_at.desc())
    if query:
        stmt = stmt.where(or_(func.lower(JobRecord.name).contains(query.lower())))
    return list(session.execute(stmt).scalars())


def set_job_tests(session: Session, job: JobRecord, test_ids: Sequence[str]) -> None:
    for test_id in test_ids:
        get_test(session, test_id)
    job.tests.clear()
    session.flush()
    job.tests.extend(JobTestRecord(position=i, test_id=tid) for i, tid in enumerate(test_ids))
    session.flush()


def create_job(
    session: Session, name: str, description: str, schedule: str | None, time_zone: str, test_ids: Sequence[str]
) -> JobRecord:
    job = JobRecord(id=new_id(), name=name, description=description, schedule=schedule, time_zone=time_zone)
    session.add(job)
    session.flush()
    set_job_tests(session, job, test_ids)
    return job


def touch_job(session: Session, job_id: str) -> None:
    """The job was just run by hand: its last_run_at says so."""
    job = session.get(JobRecord, job_id)
    if job is not None:
        job.last_run_at = utcnow()


def jobs_using(session: Session, test_id: str) -> list[JobRecord]:
    stmt = select(JobRecord).join(JobTestRecord).where(JobTestRecord.test_id == test_id).distinct()
    return list(session.execute(stmt).scalars())


def delete(session: Session, record: TestRecord | JobRecord) -> None:
    session.delete(record)
    session.flush()
