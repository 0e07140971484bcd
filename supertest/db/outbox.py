"""The transactional outbox: alerts are rows written in the transaction of a run's terminal transition.

`on_terminal` is called by the one function that moves a run row into a terminal phase (local mode's
`runs.apply_phase`, the operator's mirror `runs.upsert`), inside that transaction: the alert exists exactly
when the transition does. The row's idempotency key is `<run id>:<channel id>`, unique in the table, so a
transition replayed after a restart adds nothing; the sender hands the same key to receivers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from supertest.alert_rules import DEFAULT_EVENTS, Event, Rule, decide, streak_before
from supertest.db.ids import new_id
from supertest.db.models import ChannelRecord, JobRecord, OutboxRecord, RuleRecord, RunRecord, utcnow
from supertest.phases import TERMINAL_PHASES, Phase

HISTORY_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Decision:
    channel_id: str
    event: Event


def idempotency_key(run_id: str, channel_id: str) -> str:
    return f"{run_id}:{channel_id}"


def run_link(run_id: str) -> str:
    return f"/runs/{run_id}"


def _previous_phases(session: Session, run: RunRecord) -> list[Phase]:
    """Terminal phases of the same job's (or test's) earlier runs, newest first."""
    stmt = select(RunRecord.phase).where(
        RunRecord.id != run.id, RunRecord.phase.in_([p.value for p in TERMINAL_PHASES])
    )
    if run.kind == "job":
        stmt = stmt.where(RunRecord.kind == "job", RunRecord.job_id == run.job_id)
    else:
        stmt = stmt.where(RunRecord.kind == "test", RunRecord.test_id == run.test_id)
    if run.completed_at is not None:
        stmt = stmt.where(or_(RunRecord.completed_at.is_(None), RunRecord.completed_at <= run.completed_at))
    stmt = stmt.order_by(RunRecord.completed_at.desc(), RunRecord.created_at.desc()).limit(HISTORY_LIMIT)
    return [Phase(p) for p in session.execute(stmt).scalars()]


def _rules(session: Session, run: RunRecord) -> list[tuple[str, Rule]]:
    """(channel id, rule) for every rule that covers this run: stored rules, and a TestJob's spec.notify."""
    out: list[tuple[str, Rule]] = []
    if run.kind == "job" and run.job_id:
        cond = RuleRecord.job_id == run.job_id
    elif run.test_id:
        cond = and_(RuleRecord.test_id == run.test_id, RuleRecord.job_id.is_(None))
    else:
        cond = None
    if cond is not None:
        for record in session.execute(select(RuleRecord).where(cond).order_by(RuleRecord.created_at)).scalars():
            rule = Rule.of(record.events, record.failure_threshold, record.max_alerts_per_streak)
            out.append((record.channel_id, rule))
    job = session.get(JobRecord, run.job_id) if run.kind == "job" and run.job_id else None
    for entry in (job.notify or []) if job is not None else []:
        name = entry.get("channel")
        channel_id = session.execute(select(ChannelRecord.id).where(ChannelRecord.name == name)).scalar_one_or_none()
        if channel_id is None:
            continue  # a TestJob may name a channel not created yet; its alerts start once it exists
        events = entry.get("events") or [e.value for e in DEFAULT_EVENTS]
        out.append(
            (channel_id, Rule.of(events, int(entry.get("failureThreshold") or 1), entry.get("maxAlertsPerStreak")))
        )
    return out


def decisions(phase: Phase, previous_streak: int, rules: list[tuple[str, Rule]]) -> list[Decision]:
    """At most one alert per channel and run (the first rule that fires wins). Pure."""
    chosen: dict[str, Decision] = {}
    for channel_id, rule in rules:
        event = decide(phase, previous_streak, rule)
        if event is not None and channel_id not in chosen:
            chosen[channel_id] = Decision(channel_id, event)
    return list(chosen.values())


def payload(session: Session, run: RunRecord, event: Event, streak: int) -> dict[str, Any]:
    job = session.get(JobRecord, run.job_id) if run.job_id else None
    failures = list(run.failures or [])
    first_error = next((f.get("error", "") for f in failures if f.get("error")), "")
    if not first_error and Phase(run.phase) is not Phase.PASSED:
        first_error = (run.message or "").splitlines()[0] if run.message else ""
    return {
        "event": event.value,
        "job": {"id": job.id, "name": job.name} if job is not None else None,
        "test": {"id": run.test_id} if run.test_id else None,
        "run": {
            "id": run.id,
            "kind": run.kind,
            "title": run.title,
            "phase": run.phase,
            "trigger": run.trigger,
            "message": run.message,
            "path": run_link(run.id),
            "completedAt": run.completed_at.isoformat() if run.completed_at else None,
        },
        "summary": {"total": run.total, "passed": run.passed, "failed": run.failed, "flaky": run.flaky},
        "failedTests": [f.get("test", "") for f in failures],
        "firstError": first_error,
        "consecutiveFailures": streak,
    }


def on_terminal(session: Session, run: RunRecord) -> list[OutboxRecord]:
    """Write this run's alerts into the outbox, in the caller's transaction; idempotent per run and channel."""
    phase = Phase(run.phase)
    rules = _rules(session, run)
    if not rules:
        return []
    session.flush()
    previous = streak_before(_previous_phases(session, run))
    streak = previous + 1 if phase in (Phase.FAILED, Phase.TIMED_OUT, Phase.ERROR) else previous
    written: list[OutboxRecord] = []
    for decision in decisions(phase, previous, rules):
        key = idempotency_key(run.id, decision.channel_id)
        if session.execute(select(OutboxRecord.id).where(OutboxRecord.idempotency_key == key)).first():
            continue
        row = OutboxRecord(
            id=new_id(),
            idempotency_key=key,
            run_id=run.id,
            channel_id=decision.channel_id,
            event=decision.event.value,
            payload=payload(session, run, decision.event, streak),
            next_attempt_at=utcnow(),
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue  # a concurrent writer of the same transition won; its row is the alert
        written.append(row)
    return written
