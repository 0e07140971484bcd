"""API keys: only a SHA-256 digest is stored; the key itself is shown once at creation."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from supertest.db.ids import new_id
from supertest.db.models import ApiKeyRecord, JobRecord, utcnow

KEY_PREFIX = "st_"


def hash_key(key: str) -> str:
    # Keys carry 256 bits of entropy, so a fast digest is enough; no per-key salt is needed.
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, name: str, job_id: str | None = None) -> tuple[ApiKeyRecord, str]:
    """`job_id`: a CI trigger key, which may only run that job and read its runs."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKeyRecord(id=new_id(), name=name, prefix=key[:10], key_hash=hash_key(key), job_id=job_id)
    session.add(record)
    session.flush()
    return record, key


def active_key(session: Session, key_id: str) -> ApiKeyRecord | None:
    """The key a UI session was signed in with, unless it has been revoked since."""
    record = session.get(ApiKeyRecord, key_id)
    return record if record is not None and record.revoked_at is None else None


def verify_key(session: Session, key: str) -> ApiKeyRecord | None:
    digest = hash_key(key)
    record = session.execute(select(ApiKeyRecord).where(ApiKeyRecord.key_hash == digest)).scalar_one_or_none()
    if record is None or record.revoked_at is not None or not hmac.compare_digest(record.key_hash, digest):
        return None
    now = utcnow()
    # Bounded write rate: a busy client must not turn every request into a row update.
    if record.last_used_at is None or (now - record.last_used_at).total_seconds() > 60:
        record.last_used_at = now
    return record


def find_job(session: Session, name_or_id: str) -> JobRecord | None:
    """A job by id, else by exact name (None when no job or several jobs have that name)."""
    job = session.get(JobRecord, name_or_id)
    if job is not None:
        return job
    found = list(session.execute(select(JobRecord).where(JobRecord.name == name_or_id).limit(2)).scalars())
    return found[0] if len(found) == 1 else None


def list_keys(session: Session) -> list[ApiKeyRecord]:
    return list(session.execute(select(ApiKeyRecord).order_by(ApiKeyRecord.created_at)).scalars())


def revoke_key(session: Session, key_id: str) -> bool:
    record = session.get(ApiKeyRecord, key_id)
    if record is None:
        return False
    record.revoked_at = utcnow()
    return True
