from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from supertest.db import catalog
from supertest.db.models import JobRecord

NotFound = catalog.NotFound


def list_jobs(session: Session, query: str | None) -> list[JobRecord]:
    return catalog.list_jobs(session, query)


def get(session: Session, job_id: str) -> JobRecord:
    return catalog.get_job(session, job_id)


def create(
    session: Session, name: str, description: str, schedule: str | None, time_zone: str, test_ids: Sequence[str]
) -> JobRecord:
    return catalog.create_job(session, name, description, schedule, time_zone, test_ids)


def set_tests(session: Session, job: JobRecord, test_ids: Sequence[str]) -> None:
    catalog.set_job_tests(session, job, test_ids)


def delete(session: Session, job: JobRecord) -> None:
    session.delete(job)
    session.flush()
