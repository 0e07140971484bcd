from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from supertest.db import catalog
from supertest.db.models import JobRecord, JobTestRecord, TestRecord

NotFound = catalog.NotFound


def list_tests(session: Session, query: str | None, tag: str | None) -> list[TestRecord]:
    return catalog.list_tests(session, query=query, tag=tag)


def get(session: Session, test_id: str) -> TestRecord:
    return catalog.get_test(session, test_id)


def create(session: Session, title: str, script: str, language: str, tags: Sequence[str]) -> TestRecord:
    return catalog.create_test(session, title, script, language, tags)


def jobs_using(session: Session, test_id: str) -> list[JobRecord]:
    stmt = select(JobRecord).join(JobTestRecord).where(JobTestRecord.test_id == test_id).distinct()
    return list(session.execute(stmt).scalars())


def delete(session: Session, test: TestRecord) -> None:
    session.delete(test)
    session.flush()
