from __future__ import annotations

from sqlalchemy.orm import Session

from supertest.db import catalog
from supertest.db import runs as run_repo
from supertest.db.models import JobRecord, RunRecord, TestRecord, utcnow

RunNotFound = run_repo.RunNotFound
IdempotencyKeyTaken = run_repo.IdempotencyKeyTaken
CatalogNotFound = catalog.NotFound
RunFilter = run_repo.RunFilter


def get(session: Session, run_id: str) -> RunRecord:
    return run_repo.get(session, run_id)


def find_by_idempotency_key(session: Session, scope: str, key: str) -> RunRecord | None:
    return run_repo.find_by_idempotency_key(session, scope, key)


def list_runs(session: Session, flt: RunFilter) -> tuple[list[RunRecord], int]:
    return run_repo.list_runs(session, flt)


def get_test(session: Session, test_id: str) -> TestRecord:
    return catalog.get_test(session, test_id)


def get_job(session: Session, job_id: str) -> JobRecord:
    return catalog.get_job(session, job_id)


def touch_job(session: Session, job_id: str) -> None:
    job = session.get(JobRecord, job_id)
    if job is not None:
        job.last_run_at = utcnow()
