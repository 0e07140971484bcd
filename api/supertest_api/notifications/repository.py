from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from supertest.db.ids import new_id
from supertest.db.models import (
    ChannelRecord,
    DeliveryAttemptRecord,
    JobRecord,
    OutboxRecord,
    RuleRecord,
    RunRecord,
    TestRecord,
)


def list_channels(session: Session) -> list[ChannelRecord]:
    return list(session.execute(select(ChannelRecord).order_by(ChannelRecord.name)).scalars())


def get_channel(session: Session, channel_id: str) -> ChannelRecord | None:
    return session.get(ChannelRecord, channel_id)


def channel_by_name(session: Session, name: str) -> ChannelRecord | None:
    return session.execute(select(ChannelRecord).where(ChannelRecord.name == name)).scalar_one_or_none()


def add_channel(session: Session, name: str, kind: str, config: dict[str, object], token: str | None) -> ChannelRecord:
    record = ChannelRecord(id=new_id(), name=name, kind=kind, config=config, secret_token=token)
    session.add(record)
    session.flush()
    return record


def delete(session: Session, record: object) -> None:
    session.delete(record)
    session.flush()


def list_rules(session: Session, job_id: str | None, test_id: str | None) -> list[RuleRecord]:
    stmt = select(RuleRecord).order_by(RuleRecord.created_at)
    if job_id:
        stmt = stmt.where(RuleRecord.job_id == job_id)
    if test_id:
        stmt = stmt.where(RuleRecord.test_id == test_id)
    return list(session.execute(stmt).scalars())


def get_rule(session: Session, rule_id: str) -> RuleRecord | None:
    return session.get(RuleRecord, rule_id)


def add_rule(session: Session, rule: RuleRecord) -> RuleRecord:
    rule.id = new_id()
    session.add(rule)
    session.flush()
    return rule


def job_exists(session: Session, job_id: str) -> bool:
    return session.get(JobRecord, job_id) is not None


def test_exists(session: Session, test_id: str) -> bool:
    return session.get(TestRecord, test_id) is not None


def run_exists(session: Session, run_id: str) -> bool:
    return session.get(RunRecord, run_id) is not None


def deliveries(session: Session, run_id: str) -> list[tuple[OutboxRecord, list[DeliveryAttemptRecord]]]:
    rows = session.execute(
        select(OutboxRecord).where(OutboxRecord.run_id == run_id).order_by(OutboxRecord.created_at)
    ).scalars()
    out = []
    for row in rows:
        attempts = session.execute(
            select(DeliveryAttemptRecord)
            .where(DeliveryAttemptRecord.outbox_id == row.id)
            .order_by(DeliveryAttemptRecord.number, DeliveryAttemptRecord.id)
        ).scalars()
        out.append((row, list(attempts)))
    return out
