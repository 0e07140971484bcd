from __future__ import annotations

from sqlalchemy.orm import Session

from supertest.db import apikeys
from supertest.db.models import ApiKeyRecord


def verify(session: Session, key: str) -> ApiKeyRecord | None:
    return apikeys.verify_key(session, key)


def active_key(session: Session, key_id: str) -> ApiKeyRecord | None:
    record = session.get(ApiKeyRecord, key_id)
    return record if record is not None and record.revoked_at is None else None
