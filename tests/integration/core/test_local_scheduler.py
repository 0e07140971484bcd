"""Local mode's scheduler over real job rows, with a fake clock and a launcher that only records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from supertest.db import catalog
from supertest.db import runs as run_repo
from supertest.db.engine import session_scope
from supertest.db.ids import new_run_id
from supertest.db.models import RunRecord
from supertest.launch import RunRequest
from supertest.local.scheduler import LocalScheduler
from supertest.phases import Phase

T0 = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)


class RecordingLauncher:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.submitted: list[RunRequest] = []
        self.cancelled: list[str] = []

    async def submit(self, request: RunRequest) -> RunRecord:
        self.submitted.append(request)
        with session_scope(self.sessions) as s:
            record = RunRecord(
                id=new_run_id("job"),
                kind="job",
                job_id=request.job_id,
                trigger=request.trigger,
                phase="Queued",
                spec={},
            )
            return run_repo.enqueue(s, record, 100)

    async def cancel(self, run_id: str) -> RunRecord:
        self.cancelled.append(run_id)
        with session_scope(self.sessions) as s:
            return run_repo.apply_phase(s, run_id, run_repo.PhaseUpdate(Phase.CANCELLED, "replaced"))

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def make_job(sessions: sessionmaker[Session], **policy: object) -> str:
    with session_scope(sessions) as s:
        test = catalog.create_test(s, "t", "test('t', () => {})", "javascript", [])
        job = catalog.create_job(s, "every five", "", "*/5 * * * *", "UTC", [test.id])
        job.created_at = T0
        for key, value in policy.items():
            setattr(job, key, value)
        return job.id


async def test_fires_each_tick_once_with_the_job_tests(sessions):
    job_id = make_job(sessions)
    now = {"t": T0}
    launcher = RecordingLauncher(sessions)
    scheduler = LocalScheduler(sessions, launcher, clock=lambda: now["t"])

    assert await scheduler.tick() <= 300
    assert launcher.submitted == []
    now["t"] = T0 + timedelta(minutes=4, seconds=31)  # 00:05:01
    await scheduler.tick()
    await scheduler.tick()  # same instant again: the tick is already recorded
    assert len(launcher.submitted) == 1
    request = launcher.submitted[0]
    assert (request.kind, request.trigger, request.job_id) == ("job", "schedule", job_id)
    assert [s.name for s in request.scripts] == ["t"]
    with session_scope(sessions) as s:
        job = catalog.get_job(s, job_id)
        assert job.last_schedule_time == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
        assert job.next_run_at == datetime(2026, 1, 1, 0, 10, tzinfo=UTC)


async def test_forbid_skips_while_active_and_replace_cancels(sessions):
    forbid_id = make_job(sessions, concurrency_policy="Forbid")
    replace_id = make_job(sessions, concurrency_policy="Replace")
    now = {"t": T0 + timedelta(minutes=4, seconds=31)}
    launcher = RecordingLauncher(sessions)
    scheduler = LocalScheduler(sessions, launcher, clock=lambda: now["t"])
    await scheduler.tick()
    assert sorted(r.job_id or "" for r in launcher.submitted) == sorted([forbid_id, replace_id])

    now["t"] += timedelta(minutes=5)  # the next tick, with both first runs still Queued (active)
    await scheduler.tick()
    by_job = [r.job_id for r in launcher.submitted]
    assert by_job.count(forbid_id) == 1  # skipped
    assert by_job.count(replace_id) == 2  # replaced
    assert len(launcher.cancelled) == 1


async def test_suspend_stops_new_runs(sessions):
    make_job(sessions, suspend=True)
    launcher = RecordingLauncher(sessions)
    scheduler = LocalScheduler(sessions, launcher, clock=lambda: T0 + timedelta(hours=1))
    await scheduler.tick()
    assert launcher.submitted == []
