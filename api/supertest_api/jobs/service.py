"""Jobs: ordered sets of stored tests, run by hand, from the API, or on a cron schedule."""

from __future__ import annotations

from sqlalchemy.orm import Session

from supertest.db.models import JobRecord, utcnow
from supertest_api.errors import Conflict, NotFoundError, ValidationFailed
from supertest_api.jobs import repository
from supertest_api.jobs.schedule import check_schedule, check_time_zone, next_run, next_runs
from supertest_api.jobs.schemas import JobIn, JobOut, JobPatch, JobTestOut, SchedulePreviewOut


def get_job(session: Session, job_id: str) -> JobRecord:
    try:
        return repository.get(session, job_id)
    except repository.NotFound as exc:
        raise NotFoundError(str(exc)) from exc


def list_jobs(session: Session, query: str | None) -> list[JobRecord]:
    return repository.list_jobs(session, query)


def _set_tests(session: Session, job: JobRecord, test_ids: list[str]) -> None:
    try:
        repository.set_tests(session, job, test_ids)
    except repository.NotFound as exc:
        raise ValidationFailed(f"testIds: {exc}", details=[{"loc": ["body", "testIds"], "msg": str(exc)}]) from exc


def _schedule(schedule: str | None) -> str | None:
    return check_schedule(schedule) if schedule else None


def create_job(session: Session, body: JobIn) -> JobRecord:
    check_time_zone(body.time_zone)
    schedule = _schedule(body.schedule)
    try:
        job = repository.create(session, body.name, body.description, schedule, body.time_zone, body.test_ids)
    except repository.NotFound as exc:
        raise ValidationFailed(f"testIds: {exc}", details=[{"loc": ["body", "testIds"], "msg": str(exc)}]) from exc
    _apply_policy(job, body)
    job.last_schedule_time = utcnow() if schedule else None
    job.next_run_at = next_run(schedule, body.time_zone)
    return job


_POLICY_FIELDS = (
    "concurrency_policy",
    "starting_deadline_seconds",
    "suspend",
    "successful_runs_history_limit",
    "failed_runs_history_limit",
)


def _apply_policy(job: JobRecord, body: JobIn | JobPatch) -> None:
    """PUT replaces every policy field; PATCH changes the fields it names (null clears only the deadline)."""
    for name in _POLICY_FIELDS:
        value = getattr(body, name)
        named = name in body.model_fields_set and (value is not None or name == "starting_deadline_seconds")
        if isinstance(body, JobIn) or named:
            setattr(job, name, value)


def _set_schedule(job: JobRecord, schedule: str | None) -> None:
    # A new schedule only fires future ticks, never ones from before it existed.
    if schedule != job.schedule:
        job.last_schedule_time = utcnow() if schedule else None
    job.schedule = schedule


def _editable(job: JobRecord) -> JobRecord:
    if job.managed_by != "api":
        raise Conflict(f"job {job.name!r} is managed by {job.managed_by}; change it there, not through the API")
    return job


def replace_job(session: Session, job_id: str, body: JobIn) -> JobRecord:
    job = _editable(get_job(session, job_id))
    check_time_zone(body.time_zone)
    _set_schedule(job, _schedule(body.schedule))
    _apply_policy(job, body)
    job.name, job.description, job.time_zone = body.name, body.description, body.time_zone
    _set_tests(session, job, body.test_ids)
    return _touch(job)


def patch_job(session: Session, job_id: str, body: JobPatch) -> JobRecord:
    job = _editable(get_job(session, job_id))
    fields = body.model_fields_set
    if body.time_zone is not None:
        job.time_zone = check_time_zone(body.time_zone).key
    if "schedule" in fields:
        _set_schedule(job, _schedule(body.schedule))
    _apply_policy(job, body)
    if body.name is not None:
        job.name = body.name
    if body.description is not None:
        job.description = body.description
    if body.test_ids is not None:
        _set_tests(session, job, body.test_ids)
    return _touch(job)


def _touch(job: JobRecord) -> JobRecord:
    job.next_run_at = next_run(job.schedule, job.time_zone)
    job.updated_at = utcnow()
    return job


def delete_job(session: Session, job_id: str) -> None:
    repository.delete(session, _editable(get_job(session, job_id)))


def job_out(job: JobRecord) -> JobOut:
    return JobOut(
        id=job.id,
        name=job.name,
        description=job.description,
        schedule=job.schedule,
        time_zone=job.time_zone,
        managed_by=job.managed_by,
        test_ids=[jt.test_id for jt in job.tests],
        tests=[JobTestOut(id=jt.test_id, title=jt.test.title) for jt in job.tests],
        concurrency_policy=job.concurrency_policy,
        starting_deadline_seconds=job.starting_deadline_seconds,
        suspend=job.suspend,
        successful_runs_history_limit=job.successful_runs_history_limit,
        failed_runs_history_limit=job.failed_runs_history_limit,
        last_schedule_time=job.last_schedule_time,
        last_run_at=job.last_run_at,
        next_run_at=job.next_run_at,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


def preview_schedule(schedule: str, time_zone: str, count: int) -> SchedulePreviewOut:
    """Validate a schedule without saving it (422 with the same message a save would give)."""
    normalised = check_schedule(schedule.strip())
    zone = check_time_zone(time_zone.strip()).key
    return SchedulePreviewOut(schedule=normalised, time_zone=zone, next_runs=next_runs(normalised, zone, count))
