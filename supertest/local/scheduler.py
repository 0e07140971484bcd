"""Local mode's cron scheduler: the same decisions as the operator's TestJob scheduler, over job rows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supertest import schedule
from supertest.admission import QueueFull
from supertest.db.engine import session_scope
from supertest.db.models import JobRecord, RunRecord
from supertest.launch import RunLauncher, RunRequest, ScriptSpec
from supertest.phases import TERMINAL_PHASES

log = structlog.get_logger("supertest.scheduler")

# Upper bound on one sleep, so edits to a job's schedule are picked up promptly.
MAX_SLEEP_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class _Due:
    job_id: str
    decision: schedule.Decision
    request: RunRequest


def _now() -> datetime:
    return datetime.now(UTC)


class LocalScheduler:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        launcher: RunLauncher,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._sessions = session_factory
        self._launcher = launcher
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="supertest-scheduler")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        """Call after a job's schedule changes."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            sleep = MAX_SLEEP_SECONDS
            try:
                sleep = min(sleep, await self.tick())
            except Exception:  # one bad job must not stop the others' schedules
                log.exception("scheduler_tick_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.5, sleep))
            self._wake.clear()

    async def tick(self) -> float:
        """Start what is due now; return the seconds until the next tick of any job."""
        now = self._clock()
        due, sleep = await asyncio.to_thread(self._plan, now)
        for item in due:
            for run_id in item.decision.cancel:
                with contextlib.suppress(Exception):
                    await self._launcher.cancel(run_id)
            try:
                record = await self._launcher.submit(item.request)
                log.info("scheduled_run_started", job_id=item.job_id, run_id=record.id, tick=str(item.decision.tick))
            except QueueFull as exc:
                log.warning("scheduled_run_refused", job_id=item.job_id, reason=str(exc))
        return sleep

    def _plan(self, now: datetime) -> tuple[list[_Due], float]:
        due: list[_Due] = []
        sleep = MAX_SLEEP_SECONDS
        with session_scope(self._sessions) as session:
            jobs = session.execute(
                select(JobRecord).where(JobRecord.schedule.is_not(None), JobRecord.managed_by == "api")
            ).scalars()
            for job in jobs:
                decision = schedule.decide(_spec_of(job), _state_of(session, job), now)
                job.next_run_at = decision.next_tick
                sleep = min(sleep, decision.seconds_until_next(now))
                if decision.action is not schedule.Action.START or decision.tick is None:
                    continue
                # Recorded before submitting: a crash loses at most this tick, never fires it twice.
                job.last_schedule_time = decision.tick
                job.last_run_at = now
                due.append(_Due(job.id, decision, _request_of(job)))
        return due, sleep


def _spec_of(job: JobRecord) -> schedule.ScheduleSpec:
    return schedule.ScheduleSpec(
        name=job.id,
        expression=job.schedule or "",
        time_zone=job.time_zone,
        concurrency_policy=schedule.ConcurrencyPolicy(job.concurrency_policy),
        starting_deadline_seconds=job.starting_deadline_seconds,
        suspend=job.suspend,
    )


def _state_of(session: Session, job: JobRecord) -> schedule.ScheduleState:
    active = session.execute(
        select(RunRecord.id).where(
            RunRecord.job_id == job.id,
            RunRecord.trigger == "schedule",
            RunRecord.phase.not_in([p.value for p in TERMINAL_PHASES]),
        )
    ).scalars()
    return schedule.ScheduleState(
        created_at=job.created_at, last_schedule_time=job.last_schedule_time, active=list(active)
    )


def _request_of(job: JobRecord) -> RunRequest:
    scripts = tuple(
        ScriptSpec(
            name=jt.test.title,
            script=jt.test.script,
            language="typescript" if jt.test.language == "typescript" else "javascript",
        )
        for jt in job.tests
    )
    return RunRequest(kind="job", scripts=scripts, title=job.name, trigger="schedule", job_id=job.id)
