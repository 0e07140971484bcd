from __future__ import annotations

from sqlalchemy.orm import Session

from supertest.db import apikeys
from supertest.db.models import ApiKeyRecord, RunRecord


def verify(session: Session, key: str) -> ApiKeyRecord | None:
    return apikeys.verify_key(session, key)


def job_of_run(session: Session, run_id: str) -> str | None:
    run = session.get(RunRecord, run_id)
    return run.job_id if run is not None else None


def active_key(session: Session, key_id: str) -> ApiKeyRecord | None:
    record = session.get(ApiKeyRecord, key_id)
    return record if record is not None and record.revoked_at is None else None
