from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from supertest.db.ids import new_id
from supertest.db.models import JobRecord, VariableRecord


def list_variables(session: Session, scope: str | None) -> list[VariableRecord]:
    stmt = select(VariableRecord).order_by(VariableRecord.scope, VariableRecord.name)
    if scope is not None:
        stmt = stmt.where(VariableRecord.scope == scope)
    return list(session.execute(stmt).scalars())


def find(session: Session, scope: str, name: str) -> VariableRecord | None:
    stmt = select(VariableRecord).where(VariableRecord.scope == scope, VariableRecord.name == name)
    return session.execute(stmt).scalar_one_or_none()


def get(session: Session, variable_id: str) -> VariableRecord | None:
    return session.get(VariableRecord, variable_id)


def add(session: Session, record: VariableRecord) -> VariableRecord:
    record.id = new_id()
    session.add(record)
    session.flush()
    return record


def job_exists(session: Session, job_id: str) -> bool:
    return session.get(JobRecord, job_id) is not None


def delete(session: Session, record: VariableRecord) -> None:
    session.delete(record)
    session.flush()
