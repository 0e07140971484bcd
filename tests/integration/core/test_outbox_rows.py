"""The outbox on SQLite and Postgres: alerts commit with the terminal transition or not at all, once per run and
channel, from the local-mode writer (apply_phase) and the operator's mirror (upsert); migration 0005 round trip."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, sessionmaker
from supertest_operator.db_mirror import run_row
from supertest_operator.run import RunView

from supertest.db import migrate
from supertest.db import runs as run_repo
from supertest.db.engine import make_engine, session_scope
from supertest.db.ids import new_id
from supertest.db.models import ChannelRecord, JobRecord, OutboxRecord, RuleRecord, RunRecord
from supertest.phases import Phase
from tests.unit.operator.conftest import run_body


def setup(sessions: sessionmaker[Session], notify: list[dict[str, object]] | None = None) -> tuple[str, str]:
    with session_scope(sessions) as s:
        job = JobRecord(id=new_id(), name="shop", notify=notify)
        channel = ChannelRecord(id=new_id(), name="ops", kind="webhook", config={"url": "http://127.0.0.1:1/"})
        s.add_all([job, channel])
        s.flush()
        if notify is None:
            s.add(RuleRecord(id=new_id(), channel_id=channel.id, job_id=job.id, events=["failure"]))
        return job.id, channel.id


def new_job_run(sessions: sessionmaker[Session], job_id: str) -> str:
    with session_scope(sessions) as s:
        run = RunRecord(id=f"jr-{new_id()[:8]}", kind="job", job_id=job_id, phase="Queued")
        run_repo.enqueue(s, run, queued_capacity=100)
        run_repo.apply_phase(s, run.id, run_repo.PhaseUpdate(Phase.STARTING))
        run_repo.apply_phase(s, run.id, run_repo.PhaseUpdate(Phase.RUNNING))
        return run.id


def outbox(sessions: sessionmaker[Session]) -> list[OutboxRecord]:
    with session_scope(sessions) as s:
        return list(s.execute(select(OutboxRecord)).scalars())


def test_the_alert_commits_with_the_transition_or_not_at_all(sessions: sessionmaker[Session]) -> None:
    job_id, channel_id = setup(sessions)
    run_id = new_job_run(sessions, job_id)
    seen: list[int] = []

    def crash_before_commit() -> None:
        with session_scope(sessions) as s:
            run_repo.apply_phase(s, run_id, run_repo.PhaseUpdate(Phase.FAILED, "1 failed"))
            seen.append(len(s.execute(select(OutboxRecord)).scalars().all()))  # written, inside the transaction
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        crash_before_commit()
    assert seen == [1]
    assert outbox(sessions) == []
    with session_scope(sessions) as s:
        assert run_repo.get(s, run_id).phase == "Running"
        update = run_repo.PhaseUpdate(Phase.FAILED, "1 failed", failures=[{"test": "a > b", "error": "Error: x"}])
        run_repo.apply_phase(s, run_id, update)
    rows = outbox(sessions)
    assert [(r.run_id, r.channel_id, r.event, r.status) for r in rows] == [(run_id, channel_id, "failure", "pending")]
    assert rows[0].idempotency_key == f"{run_id}:{channel_id}"
    assert rows[0].payload["failedTests"] == ["a > b"] and rows[0].payload["firstError"] == "Error: x"


def test_the_operator_mirror_writes_alerts_once_for_a_testjob_notify(sessions: sessionmaker[Session]) -> None:
    job_id, channel_id = setup(sessions, notify=[{"channel": "ops", "events": ["failure"]}, {"channel": "absent"}])
    run_id = "jr-mirror-1"
    with session_scope(sessions) as s:
        run_repo.upsert(s, run_id, {"kind": "job", "job_id": job_id, "phase": "Running"})
    for _ in range(2):  # the mirror replays the terminal status (a restart): no second alert
        with session_scope(sessions) as s:
            run_repo.upsert(s, run_id, {"kind": "job", "job_id": job_id, "phase": "Failed", "message": "Error: y"})
    rows = outbox(sessions)
    assert [(r.run_id, r.channel_id) for r in rows] == [(run_id, channel_id)]
    assert rows[0].payload["firstError"] == "Error: y"


def test_kubernetes_mode_alerts_name_the_failed_tests_from_the_verdict(sessions: sessionmaker[Session]) -> None:
    """The operator mirrors status.failures (from the pod's termination message) into the row the outbox reads."""
    job_id, _channel_id = setup(sessions, notify=[{"channel": "ops", "events": ["failure"]}])
    failures = [{"test": "a.spec.ts > fails", "error": "Error: expected 1"}]
    body = run_body(name="jr-verdict-1", kind="JobRun", status={"phase": "Failed", "failures": failures})
    values = {**run_row(RunView.from_body(body)), "job_id": job_id}
    with session_scope(sessions) as s:
        run_repo.upsert(s, "jr-verdict-1", values)
    [row] = [r for r in outbox(sessions) if r.run_id == "jr-verdict-1"]
    assert row.payload["failedTests"] == ["a.spec.ts > fails"] and row.payload["firstError"] == "Error: expected 1"


def test_migration_0005_downgrades_and_upgrades_again(db_url: str) -> None:
    migrate.downgrade(db_url, "0004")
    engine = make_engine(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert not {"notification_channels", "notification_outbox", "variables"} & tables
        assert "job_id" not in {c["name"] for c in inspect(engine).get_columns("api_keys")}
        migrate.upgrade(db_url)
        assert {"notification_channels", "notification_rules", "notification_outbox", "variables"} <= set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()
