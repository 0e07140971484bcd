"""Run rows: atomic enqueue under the queued capacity, phase updates through the state machine."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.types.json import Json
from sqlalchemy import ColumnDefault, Integer, Table, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session

from supertest.admission import QueuedRun, check_queue_capacity
from supertest.db import outbox
from supertest.db.models import RunRecord, utcnow
from supertest.events import Summary
from supertest.launch import LaunchedRun, RunRequest
from supertest.phases import ACTIVE_PHASES, TERMINAL_PHASES, Phase, transition

# Serialises the queued-capacity decision across API replicas (released at commit). Any constant works: it only
# has to be the same for every writer of runs.
_ENQUEUE_LOCK_KEY = 0x5E7E57


class RunNotFound(LookupError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id!r} not found")
        self.run_id = run_id


class IdempotencyKeyTaken(Exception):
    """Another run already holds this (scope, Idempotency-Key); the submission that raised it stored nothing."""

    def __init__(self, scope: str, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} is already taken")
        self.scope = scope
        self.key = key


@dataclass(slots=True)
class RunFilter:
    phase: Sequence[str] = ()
    kind: str | None = None
    trigger: str | None = None
    test_id: str | None = None
    job_id: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass(slots=True)
class PhaseUpdate:
    phase: Phase
    message: str | None = None
    at: datetime = field(default_factory=utcnow)
    summary: Summary | None = None
    report_url: str | None = None
    report_key: str | None = None
    exit_code: int | None = None
    failures: list[dict[str, str]] | None = None


def count_in_phases(session: Session, phases: Sequence[Phase]) -> int:
    stmt = select(func.count()).select_from(RunRecord).where(RunRecord.phase.in_([p.value for p in phases]))
    return int(session.execute(stmt).scalar_one())


def queued_record(
    run_id: str, request: RunRequest, namespace: str | None = None, spec: dict[str, Any] | None = None
) -> RunRecord:
    """The Queued row of a submission, as every launcher writes it (with its Idempotency-Key, if any).

    `runs.spec` has one shape in both modes, built by `RunRequest.spec_dict` (the TestRun/JobRun spec). A
    Kubernetes launcher gives the namespace and the spec of the resource it creates (that shape, with the TestJob's
    tests and the variables' env added): the row then holds the very spec the operator mirrors from that resource
    later. In local mode the row holds the request's spec, which the dispatcher launches from.
    """
    key = request.idempotency
    now = utcnow()
    return RunRecord(
        id=run_id,
        namespace=namespace,
        created_at=now,
        queued_at=now,
        kind=request.kind,
        test_id=request.test_id,
        job_id=request.job_id,
        trigger=request.trigger,
        priority=request.priority,
        title=request.title[:200],
        spec=request.spec_dict() if spec is None else spec,
        phase=Phase.QUEUED.value,
        idempotency_scope=key.scope if key else None,
        idempotency_key=key.key if key else None,
        request_hash=key.request_hash if key else None,
    )


def launched(run: RunRecord) -> LaunchedRun:
    """The launcher contract's answer, read while the row's session is still open."""
    kind: Literal["test", "job"] = "job" if run.kind == "job" else "test"
    return LaunchedRun(
        id=run.id, kind=kind, phase=run.phase, trigger=run.trigger, cancel_requested=run.cancel_requested
    )


def queued_count(session: Session) -> int:
    """Runs waiting for a running slot: the one count behind QUEUED_CAPACITY, /api/capacity and the metrics."""
    return count_in_phases(session, [Phase.QUEUED])


def insert_new(session: Session, run: RunRecord) -> RunRecord:
    """Insert a new run row; IdempotencyKeyTaken (and nothing inserted) when its key is already used in its scope.

    The key goes in with the row, in the caller's transaction: there is never a run without its key, nor a key
    without its run, so a retry finds either nothing or the whole run.
    """
    try:
        with session.begin_nested():  # a SAVEPOINT: a duplicate key leaves the caller's transaction usable
            session.add(run)
    except IntegrityError as exc:
        scope, key = run.idempotency_scope, run.idempotency_key
        if scope is not None and key is not None and find_by_idempotency_key(session, scope, key) is not None:
            raise IdempotencyKeyTaken(scope, key) from exc
        raise
    return run


def find_by_idempotency_key(session: Session, scope: str, key: str) -> RunRecord | None:
    stmt = select(RunRecord).where(RunRecord.idempotency_scope == scope, RunRecord.idempotency_key == key)
    return session.execute(stmt).scalar_one_or_none()


def enqueue(session: Session, run: RunRecord, queued_capacity: int) -> RunRecord:
    """Insert a Queued run, or raise QueueFull (or IdempotencyKeyTaken); the caller's transaction commits it.

    On Postgres the decision commits before this returns (see _enqueue_postgres), together with anything the
    session had already flushed; the run is not added to the session, and the object returned holds the values
    written (defaults included). Call it first in its transaction, as the launchers do.
    """
    run.phase = Phase.QUEUED.value
    if session.get_bind().dialect.name == "postgresql":
        return _enqueue_postgres(session, run, queued_capacity)
    # SQLite: the engine opens every transaction with BEGIN IMMEDIATE, which already serialises writers.
    check_queue_capacity(queued_count(session), queued_capacity)
    return insert_new(session, run)


def _enqueue_postgres(session: Session, run: RunRecord, queued_capacity: int) -> RunRecord:
    """The queued-capacity decision as one short transaction, sent to the server in ONE round trip (a psycopg
    pipeline): BEGIN, the lock, one statement that counts the queue and inserts only below the capacity (a duplicate
    Idempotency-Key inserts nothing), COMMIT. The lock is held only while the server runs those statements, never
    across a round trip or a Python thread waiting for the GIL, which is what made concurrent submissions queue
    behind each other (it used to be held over count, SAVEPOINT, INSERT, RELEASE and COMMIT, one trip each).

    The lock has to be its own statement: under READ COMMITTED each statement reads a snapshot taken when it
    starts, so the guarded insert, starting after the lock is granted, sees every run its predecessors committed.
    """
    values, params = _enqueue_params(run, queued_capacity)
    driver = session.connection().connection.driver_connection
    if not isinstance(driver, psycopg.Connection):  # pragma: no cover - the engine always uses psycopg 3
        raise TypeError(f"Postgres enqueue needs a psycopg connection, got {type(driver).__name__}")
    try:
        with driver.pipeline():
            driver.execute("SELECT pg_advisory_xact_lock(%s)", [_ENQUEUE_LOCK_KEY])
            decision = driver.execute(_guarded_insert_sql(), params)
            driver.commit()
        row = decision.fetchone()
    except psycopg.Error as exc:
        raise _as_sqlalchemy_error(exc) from exc
    return _decided(run, values, row, queued_capacity)


async def enqueue_async(conn: psycopg.AsyncConnection[Any], run: RunRecord, queued_capacity: int) -> RunRecord:
    """`enqueue` on Postgres from the event loop: the same one-round-trip transaction, on a connection of
    `AsyncConnections`, so a submission costs no worker thread (and no wait for the GIL on the way back)."""
    run.phase = Phase.QUEUED.value
    values, params = _enqueue_params(run, queued_capacity)
    try:
        async with conn.pipeline():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", [_ENQUEUE_LOCK_KEY])
            decision = await conn.execute(_guarded_insert_sql(), params)
            await conn.commit()
        row = await decision.fetchone()
    except psycopg.Error as exc:
        raise _as_sqlalchemy_error(exc) from exc
    return _decided(run, values, row, queued_capacity)


def _enqueue_params(run: RunRecord, queued_capacity: int) -> tuple[dict[str, Any], dict[str, Any]]:
    values = _column_values(run)
    params: dict[str, Any] = {k: Json(v) if isinstance(v, dict | list) else v for k, v in values.items()}
    params.update(capacity=queued_capacity, queued_phase=Phase.QUEUED.value)
    return values, params


def _as_sqlalchemy_error(exc: psycopg.Error) -> StatementError:
    # As SQLAlchemy would have raised it (an outage is an OperationalError, which the API answers with 503).
    return DBAPIError.instance(_guarded_insert_sql(), None, exc, psycopg.Error)


def _decided(run: RunRecord, values: dict[str, Any], row: Any, queued_capacity: int) -> RunRecord:
    """The run as inserted, or QueueFull / IdempotencyKeyTaken from the guarded insert's (queued, added)."""
    assert row is not None
    queued, added = row
    if not added:
        check_queue_capacity(int(queued), queued_capacity)
        # Room in the queue but nothing inserted: the Idempotency-Key's constraint was the conflict.
        raise IdempotencyKeyTaken(run.idempotency_scope or "", run.idempotency_key or "")
    for key, value in values.items():
        setattr(run, key, value)
    return run


@functools.cache
def _guarded_insert_sql() -> str:
    """`INSERT ... SELECT <the run> WHERE <queued count> < capacity`, returning (queued count, rows inserted),
    compiled once for psycopg with a cast on every parameter (the select list gives them no type of their own)."""
    table = RunRecord.__table__
    assert isinstance(table, Table)
    columns = [c.key for c in table.columns]
    waiting = (
        select(func.count().label("n"))
        .select_from(table)
        .where(table.c.phase == bindparam("queued_phase", type_=table.c.phase.type))
        .cte("waiting")
    )
    rows = select(*(bindparam(c, type_=table.c[c].type) for c in columns)).where(
        waiting.c.n < bindparam("capacity", type_=Integer)
    )
    inserted = (
        pg_insert(table)
        .from_select(columns, rows)
        .on_conflict_do_nothing(constraint="uq_runs_idempotency")
        .returning(table.c.id)
        .cte("inserted")
    )
    stmt = select(waiting.c.n, select(func.count()).select_from(inserted).scalar_subquery())
    return str(stmt.compile(dialect=pg_psycopg.dialect()))  # type: ignore[no-untyped-call]


def _column_values(run: RunRecord) -> dict[str, Any]:
    """Every column of a new, not yet flushed run: its own value, else the column's default (as a flush would)."""
    values: dict[str, Any] = {}
    for column in RunRecord.__table__.columns:
        value = getattr(run, column.key)
        default = column.default
        if value is None and isinstance(default, ColumnDefault):
            value = default.arg(None) if default.is_callable else default.arg
        values[column.key] = value
    return values


def get(session: Session, run_id: str) -> RunRecord:
    run = session.get(RunRecord, run_id)
    if run is None:
        raise RunNotFound(run_id)
    return run


def ended_at(session: Session, run_id: str, namespace: str | None) -> datetime | None:
    """When the run recorded as `run_id` (in `namespace`, when rows carry one) reached its terminal phase; None if
    it has not, or there is no such row."""
    run = session.get(RunRecord, run_id)
    if run is None or not Phase(run.phase).is_terminal or run.completed_at is None:
        return None
    if namespace is not None and run.namespace not in (None, namespace):
        return None
    return run.completed_at


def job_of_run(session: Session, run_id: str) -> str | None:
    """The TestJob a run belongs to (None for an ad-hoc run or an unknown id): the job-scoped key check."""
    run = session.get(RunRecord, run_id)
    return run.job_id if run is not None else None


def list_runs(session: Session, flt: RunFilter) -> tuple[list[RunRecord], int]:
    stmt = select(RunRecord)
    if flt.phase:
        stmt = stmt.where(RunRecord.phase.in_(list(flt.phase)))
    if flt.kind:
        stmt = stmt.where(RunRecord.kind == flt.kind)
    if flt.trigger:
        stmt = stmt.where(RunRecord.trigger == flt.trigger)
    if flt.test_id:
        stmt = stmt.where(RunRecord.test_id == flt.test_id)
    if flt.job_id:
        stmt = stmt.where(RunRecord.job_id == flt.job_id)
    total = int(session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())
    rows = session.execute(
        stmt.order_by(RunRecord.created_at.desc(), RunRecord.id).limit(flt.limit).offset(flt.offset)
    ).scalars()
    return list(rows), total


def queued_candidates(session: Session, limit: int) -> list[QueuedRun]:
    stmt = (
        select(RunRecord.id, RunRecord.queued_at, RunRecord.priority)
        .where(RunRecord.phase == Phase.QUEUED.value)
        .order_by(RunRecord.priority.desc(), RunRecord.queued_at, RunRecord.id)
        .limit(limit)
    )
    return [QueuedRun(run_id=r.id, queued_at=r.queued_at, priority=r.priority) for r in session.execute(stmt)]


def count_active(session: Session) -> int:
    return count_in_phases(session, sorted(ACTIVE_PHASES))


def active_runs(session: Session) -> list[RunRecord]:
    stmt = select(RunRecord).where(RunRecord.phase.in_([p.value for p in ACTIVE_PHASES]))
    return list(session.execute(stmt).scalars())


def apply_phase(session: Session, run_id: str, change: PhaseUpdate) -> RunRecord:
    """Move a run through the state machine; raises IllegalTransition for impossible moves."""
    run = get(session, run_id)
    current = Phase(run.phase)
    run.phase = transition(current, change.phase).value
    if change.message is not None:
        run.message = change.message
    if change.phase is Phase.STARTING and current is Phase.QUEUED:
        run.attempts += 1
    if change.phase in (Phase.STARTING, Phase.RUNNING) and run.started_at is None:
        run.started_at = change.at
    if change.phase in TERMINAL_PHASES:
        run.completed_at = run.completed_at or change.at
        if run.started_at is not None:
            run.duration_ms = int((run.completed_at - run.started_at).total_seconds() * 1000)
    if change.summary is not None:
        apply_summary(run, change.summary)
    if change.report_url is not None:
        run.report_url = change.report_url
    if change.report_key is not None:
        run.report_key = change.report_key
    if change.exit_code is not None:
        run.exit_code = change.exit_code
    if change.failures is not None:
        run.failures = change.failures
    if change.phase in TERMINAL_PHASES and current not in TERMINAL_PHASES:
        outbox.on_terminal(session, run)  # the alerts commit with the transition, or not at all
    return run


def apply_summary(run: RunRecord, summary: Summary) -> None:
    run.total = summary.total
    run.passed = summary.passed
    run.failed = summary.failed
    run.flaky = summary.flaky
    run.skipped = summary.skipped
    run.quarantined = summary.quarantined


def request_cancel(session: Session, run_id: str) -> RunRecord:
    run = get(session, run_id)
    run.cancel_requested = True
    return run


def upsert(session: Session, run_id: str, values: dict[str, Any]) -> RunRecord:
    """Idempotent write keyed by run id, used by the operator to mirror resource status."""
    run = session.get(RunRecord, run_id)
    before = run.phase if run is not None else None
    if run is None:
        run = RunRecord(id=run_id, **values)
        session.add(run)
    else:
        for key, value in values.items():
            setattr(run, key, value)
    session.flush()
    if _is_terminal(run.phase) and not _is_terminal(before):
        outbox.on_terminal(session, run)  # the operator's terminal mirror writes the alerts in its transaction
    return run


def _is_terminal(phase: str | None) -> bool:
    return phase is not None and Phase(phase) in TERMINAL_PHASES


def delete_finished_before(session: Session, cutoff: datetime, batch_size: int = 500) -> list[str]:
    """Delete one batch of terminal runs completed before the cutoff; returns their ids."""
    ids = list(
        session.execute(
            select(RunRecord.id)
            .where(RunRecord.phase.in_([p.value for p in TERMINAL_PHASES]), RunRecord.completed_at < cutoff)
            .order_by(RunRecord.completed_at)
            .limit(batch_size)
        ).scalars()
    )
    if ids:
        session.execute(delete(RunRecord).where(RunRecord.id.in_(ids)))
    return ids
