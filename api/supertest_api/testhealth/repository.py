from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from supertest.db import test_results
from supertest.db.models import QuarantinedTestRecord

window_points = test_results.window_points
quarantined_ids = test_results.quarantined_ids
put_quarantine = test_results.put_quarantine


def get_quarantine(session: Session, test_id: str) -> QuarantinedTestRecord | None:
    return session.get(QuarantinedTestRecord, test_id)


def list_quarantine(session: Session) -> list[QuarantinedTestRecord]:
    return list(session.scalars(select(QuarantinedTestRecord).order_by(QuarantinedTestRecord.test_id)))


def delete_quarantine(session: Session, record: QuarantinedTestRecord) -> None:
    session.delete(record)
    session.flush()


__all__ = [
    "delete_quarantine",
    "get_quarantine",
    "list_quarantine",
    "put_quarantine",
    "quarantined_ids",
    "window_points",
]
