"""Jobs: ordered sets of stored tests, run by hand, from the API, or on a cron schedule.

Where a schedule lives: in local mode the in-process scheduler reads the row; in Kubernetes mode the job's
TestJob (written here, in the API's namespace) is what the operator schedules. The TestJob is written inside
the request's transaction, after the row names it: if Kubernetes refuses, the request fails and nothing is saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from supertest.db import catalog
from supertest.db.models import JobRecord, utcnow
from supertest.kube.models import MAX_JOB_TESTS
from supertest.kube.testjobs import build_testjob, testjob_name
from supertest_api.errors import ClusterWriteFailed, Conflict, NotFoundError, ServiceUnavailable, ValidationFailed
from supertest_api.jobs.schedule import check_schedule, check_time_zone, next_run, next_runs
from supertest_api.jobs.schemas import JobIn, JobOut, JobPatch, JobTestOut, ResourceOut, SchedulePreviewOut
from supertest_api.kubernetes.testjobs import TestJobCluster, TestJobWriteFailed


@dataclass(frozen=True, slots=True)
class Scheduling:
    """Who runs job schedules: the job's TestJob (`cluster`, Kubernetes mode) or the local scheduler (`wake`)."""

    cluster: TestJobCluster | None = None
    wake: Callable[[], None] | None = None


def get_job(session: Session, job_id: str) -> JobRecord:
    try:
        return catalog.get_job(session, job_id)
    except catalog.NotFound as exc:
        raise NotFoundError(str(exc)) from exc


def list_jobs(session: Session, query: str | None) -> list[JobRecord]:
    return catalog.list_jobs(session, query)


def _set_tests(session: Session, job: JobRecord, test_ids: list[str]) -> None:
    try:
        catalog.set_job_tests(session, job, test_ids)
    except catalog.NotFound as exc:
        raise ValidationFailed(f"testIds: {exc}", details=[{"loc": ["body", "testIds"], "msg": str(exc)}]) from exc


def _schedule(schedule: str | None) -> str | None:
    return check_schedule(schedule) if schedule else None


def create_job(session: Session, body: JobIn, scheduling: Scheduling) -> JobRecord:
    check_time_zone(body.time_zone)
    schedule = _schedule(body.schedule)
    try:
        job = catalog.create_job(session, body.name, body.description, schedule, body.time_zone, body.test_ids)
    except catalog.NotFound as exc:
        raise ValidationFailed(f"testIds: {exc}", details=[{"loc": ["body", "testIds"], "msg": str(exc)}]) from exc
    _apply_policy(job, body)
    job.last_schedule_time = utcnow() if schedule else None
    job.next_run_at = next_run(schedule, body.time_zone)
    _sync_testjob(session, job, scheduling)
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
    if job.managed_by == "gitops":
        raise Conflict(
            f"job {job.name!r} is managed by GitOps (TestJob {job.k8s_namespace}/{job.k8s_name}); change it in git"
        )
    if job.managed_by != "api":
        raise Conflict(f"job {job.name!r} is managed by {job.managed_by}; change it there, not through the API")
    return job


def _sync_testjob(session: Session, job: JobRecord, scheduling: Scheduling) -> None:
    """Kubernetes mode: a job with a schedule has a TestJob (created or replaced); one without has none."""
    cluster = scheduling.cluster
    if cluster is None:
        return
    if job.schedule:
        if not job.tests or len(job.tests) > MAX_JOB_TESTS:
            raise ValidationFailed(
                f"a scheduled job needs 1 to {MAX_JOB_TESTS} tests (it has {len(job.tests)}): its TestJob runs them",
                details=[{"loc": ["body", "testIds"], "msg": f"give 1 to {MAX_JOB_TESTS} tests, or no schedule"}],
            )
        name = job.k8s_name or testjob_name(job.id, job.name)  # kept across renames
        job.k8s_namespace, job.k8s_name = cluster.namespace, name
        # Flushed first: the operator, seeing the TestJob, must find this row's claim on it (see mirror_testjob).
        session.flush()
        _cluster_write(lambda: cluster.apply(build_testjob(job, name)), f"TestJob {cluster.namespace}/{name}")
    elif job.k8s_name:
        namespace, name = job.k8s_namespace or cluster.namespace, job.k8s_name
        _cluster_write(lambda: cluster.delete(namespace, name), f"TestJob {namespace}/{name}")
        job.k8s_namespace = job.k8s_name = None


def _cluster_write(write: Callable[[], None], what: str) -> None:
    try:
        write()
    except TestJobWriteFailed as exc:
        message = f"could not write {what}, so the job was not saved: {exc.message}"
        if exc.taken:
            raise Conflict(message) from exc
        if exc.unreachable:
            raise ServiceUnavailable(message) from exc
        raise ClusterWriteFailed(message) from exc


def replace_job(session: Session, job_id: str, body: JobIn, scheduling: Scheduling) -> JobRecord:
    job = _editable(get_job(session, job_id))
    check_time_zone(body.time_zone)
    _set_schedule(job, _schedule(body.schedule))
    _apply_policy(job, body)
    job.name, job.description, job.time_zone = body.name, body.description, body.time_zone
    _set_tests(session, job, body.test_ids)
    _touch(job)
    _sync_testjob(session, job, scheduling)
    return job


def patch_job(session: Session, job_id: str, body: JobPatch, scheduling: Scheduling) -> JobRecord:
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
    _touch(job)
    _sync_testjob(session, job, scheduling)
    return job


def _touch(job: JobRecord) -> JobRecord:
    job.next_run_at = next_run(job.schedule, job.time_zone)
    job.updated_at = utcnow()
    return job


def delete_job(session: Session, job_id: str, scheduling: Scheduling) -> None:
    job = _editable(get_job(session, job_id))
    namespace, name = job.k8s_namespace, job.k8s_name
    catalog.delete(session, job)
    cluster = scheduling.cluster
    if cluster is not None and name:
        ns = namespace or cluster.namespace
        _cluster_write(lambda: cluster.delete(ns, name), f"TestJob {ns}/{name}")


def job_out(job: JobRecord) -> JobOut:
    return JobOut(
        id=job.id,
        name=job.name,
        description=job.description,
        schedule=job.schedule,
        time_zone=job.time_zone,
        managed_by=job.managed_by,
        resource=ResourceOut(namespace=job.k8s_namespace, name=job.k8s_name)
        if job.k8s_namespace and job.k8s_name
        else None,
        test_ids=[jt.test_id for jt in job.tests],
        tests=_tests_out(job),
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


def _tests_out(job: JobRecord) -> list[JobTestOut]:
    titles = {jt.test_id: jt.test.title for jt in job.tests}
    if job.inline_tests is None:
        return [JobTestOut(id=jt.test_id, title=jt.test.title, source="stored") for jt in job.tests]
    out: list[JobTestOut] = []
    for entry in job.inline_tests:
        test_id = entry.get("testId")
        name = entry.get("name", "")
        if entry.get("source") == "stored":
            out.append(JobTestOut(id=test_id, title=titles.get(test_id or "", name), source="stored"))
        else:
            out.append(
                JobTestOut(id=None, title=name, source="configMap" if entry.get("source") == "configMap" else "inline")
            )
    return out


def preview_schedule(schedule: str, time_zone: str, count: int) -> SchedulePreviewOut:
    """Validate a schedule without saving it (422 with the same message a save would give)."""
    normalised = check_schedule(schedule.strip())
    zone = check_time_zone(time_zone.strip()).key
    return SchedulePreviewOut(schedule=normalised, time_zone=zone, next_runs=next_runs(normalised, zone, count))
