"""Server-side UI sessions: the signed cookie names a row, and a revoked or expired row ends the session."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from supertest.db import apikeys
from supertest.db.models import ApiKeyRecord, UiSessionRecord, utcnow


def open_session(session: Session, key_id: str, max_age_seconds: int) -> str:
    """A new session id for `key_id`; sessions past their expiry are pruned on the way."""
    now = utcnow()
    session.execute(delete(UiSessionRecord).where(UiSessionRecord.expires_at < now))
    session_id = secrets.token_urlsafe(32)
    session.add(
        UiSessionRecord(
            id=session_id, key_id=key_id, created_at=now, expires_at=now + timedelta(seconds=max_age_seconds)
        )
    )
    session.flush()
    return session_id


def active_key(session: Session, session_id: str) -> ApiKeyRecord | None:
    """The key behind a session, unless the session was revoked, has expired, or its key was revoked."""
    record = session.get(UiSessionRecord, session_id)
    if record is None or record.revoked_at is not None or record.expires_at <= utcnow():
        return None
    return apikeys.active_key(session, record.key_id)


def revoke(session: Session, session_id: str) -> bool:
    record = session.get(UiSessionRecord, session_id)
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = utcnow()
    return True
