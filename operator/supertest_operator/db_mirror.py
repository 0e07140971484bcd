"""Mirror of run status into the `runs` table: idempotent upserts keyed by run id, off kopf's event loop.

When a run is terminal and its artifacts are stored, its per-test rows (test_results) are recorded from its
results.json in the same transaction as the run row, once per process (recording again would replace them with
the same rows, so a restart that mirrors the run anew is harmless).

Writes are coalesced per run (the newest snapshot wins) and performed by one worker in a thread, so a
slow or unreachable database delays the history, never the operator.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import structlog
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from supertest.artifacts.layout import report_key
from supertest.auto_quarantine import AutoQuarantineRule
from supertest.db import runs as run_repo
from supertest.db.engine import session_scope
from supertest.db.models import JobRecord, TestRecord
from supertest.kube.models import parse_time
from supertest.kube.names import ANNOTATION_JOB_ID
from supertest.phases import Phase
from supertest.results_recorder import record as record_results
from supertest_operator.run import RunView

log = structlog.get_logger("supertest.operator.db")
RETRY_SECONDS = 2.0


def run_row(view: RunView, include_spec: bool = False) -> dict[str, Any]:
    """The `runs` columns as the resource's status states them (pure)."""
    status = view.status
    summary = status.summary
    started = parse_time(status.start_time)
    completed = parse_time(status.completion_time)
    row: dict[str, Any] = {
        "kind": view.ref.resource.run_kind,
        "phase": (status.phase.value if status.phase else "Queued"),
        "trigger": view.trigger,
        "priority": view.priority,
        "title": view.title,
        "created_at": view.created,
        "queued_at": parse_time(status.queued_at) or view.created,
        "started_at": started,
        "completed_at": completed,
        "duration_ms": int((completed - started).total_seconds() * 1000) if started and completed else None,
        "message": status.message,
        "attempts": status.attempts,
        "cancel_requested": view.cancel_requested,
        "namespace": view.ref.namespace,
        "k8s_uid": view.ref.uid,
        "report_url": status.report_url,
        "report_key": report_key(view.name) if status.report_url else None,
        "test_id": view.spec.get("testId"),
        "job_id": view.annotations.get(ANNOTATION_JOB_ID) or view.spec.get("jobRef"),
    }
    if status.failures is not None:
        row["failures"] = status.failures
    if summary is not None:
        row.update(
            total=summary.total,
            passed=summary.passed,
            failed=summary.failed,
            flaky=summary.flaky,
            skipped=summary.skipped,
            quarantined=summary.quarantined,
        )
    if include_spec:
        row["spec"] = dict(view.spec)
    return row


def write_row(session: Session, run_id: str, values: dict[str, Any]) -> None:
    # testId/jobRef on a kubectl run may name nothing in the catalogue: keep the row, drop the dangling link.
    values = dict(values)
    if values.get("test_id") and session.get(TestRecord, values["test_id"]) is None:
        values["test_id"] = None
    if values.get("job_id") and session.get(JobRecord, values["job_id"]) is None:
        values["job_id"] = None
    run_repo.upsert(session, run_id, values)


class ResultsSource(Protocol):
    def read(self, run_id: str, kind: str) -> dict[str, Any] | None: ...


def wants_results(values: dict[str, Any]) -> bool:
    """A terminal run whose artifacts were stored (report URL set) has a results.json worth reading."""
    phase = values.get("phase")
    return bool(phase and Phase(phase).is_terminal and values.get("report_url"))


class DbMirror:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        results: ResultsSource | None = None,
        auto_quarantine: AutoQuarantineRule | None = None,
    ) -> None:
        self._sessions = session_factory
        self._results = results
        self._auto_quarantine = auto_quarantine
        self._recorded: set[str] = set()
        self._pending: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._worker(), name="supertest-db-mirror")

    def submit(self, run_id: str, values: dict[str, Any]) -> None:
        self._pending[run_id] = {**self._pending.get(run_id, {}), **values}
        self._idle.clear()
        self._wake.set()

    async def flush(self, within: float = 30.0) -> None:
        await asyncio.wait_for(self._idle.wait(), within)

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError):
            await self.flush(within=10.0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _worker(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, {}
            failed = await asyncio.to_thread(self._write, batch)
            if failed:
                for run_id, values in failed.items():  # newer submissions win over the failed ones
                    self._pending[run_id] = {**values, **self._pending.get(run_id, {})}
                await asyncio.sleep(RETRY_SECONDS)
                self._wake.set()
            elif not self._pending:
                self._idle.set()

    def _write(self, batch: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Each row in its own transaction; returns the rows to retry (database unreachable)."""
        items = list(batch.items())
        for index, (run_id, values) in enumerate(items):
            try:
                document: dict[str, Any] | None = None
                record = self._results is not None and run_id not in self._recorded and wants_results(values)
                if record and self._results is not None:
                    document = self._read_results(run_id, str(values.get("kind") or "test"))
                with session_scope(self._sessions) as session:
                    write_row(session, run_id, values)
                    if record:
                        self._record(session, run_id, document)
                if record:
                    self._recorded.add(run_id)
            except OperationalError as exc:
                log.warning("db_unavailable", error=str(exc).splitlines()[0])
                return dict(items[index:])
            except Exception:
                log.exception("db_row_dropped", run=run_id)
        return {}

    def _record(self, session: Session, run_id: str, document: dict[str, Any] | None) -> None:
        """Per-test rows in a savepoint: a results.json we cannot record must never hold back the run's own row."""
        try:
            with session.begin_nested():
                record_results(session, run_id, document, self._auto_quarantine)
        except OperationalError:
            raise  # the database is down: the whole write is retried
        except Exception:
            log.exception("test_results_not_recorded", run=run_id)

    def _read_results(self, run_id: str, kind: str) -> dict[str, Any] | None:
        assert self._results is not None
        try:
            return self._results.read(run_id, kind)
        except Exception as exc:  # the store unreachable: the run row still goes in; its tests are not known
            log.warning("results_unavailable", run=run_id, error=str(exc).splitlines()[0] if str(exc) else repr(exc))
            return None
