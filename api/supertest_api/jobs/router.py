from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Response, status

from supertest_api.auth.deps import PrincipalDep, require_principal
from supertest_api.common import responses
from supertest_api.deps import ResourcesDep, SessionDep
from supertest_api.jobs import service
from supertest_api.jobs.schemas import JobIn, JobListOut, JobOut, JobPatch, SchedulePreviewOut
from supertest_api.runs import service as run_service
from supertest_api.runs.router import add_stored_run_route


def get_scheduling(resources: ResourcesDep) -> service.Scheduling:
    return service.Scheduling(cluster=resources.testjobs, wake=resources.wake_scheduler)


SchedulingDep = Annotated[service.Scheduling, Depends(get_scheduling)]

router = APIRouter(prefix="/api/jobs", tags=["jobs"], dependencies=[Depends(require_principal)])
# Writes may also create, replace or delete the job's TestJob (Kubernetes mode); if that fails, nothing is saved.
WRITE_RESPONSES = responses(404, 409, 502, 503)


async def _wake(scheduling: service.Scheduling) -> None:
    """After the response (so after the commit): the local scheduler re-reads the schedules now."""
    if scheduling.wake is not None:
        scheduling.wake()


@router.get("", response_model=JobListOut, responses=responses(), summary="List jobs")
def list_jobs(
    session: SessionDep,
    principal: PrincipalDep,
    q: Annotated[str | None, Query(max_length=200, description="Name contains")] = None,
) -> JobListOut:
    jobs = service.list_jobs(session, q)
    if principal.job_id is not None:  # a CI trigger key sees its own job only
        jobs = [j for j in jobs if j.id == principal.job_id]
    return JobListOut(items=[service.job_out(j) for j in jobs], total=len(jobs))


# Declared before /{job_id} so that "schedule-preview" is never taken for a job id.
@router.get(
    "/schedule-preview",
    response_model=SchedulePreviewOut,
    responses=responses(),
    summary="Validate a cron schedule and list its next run times, without saving anything",
)
def schedule_preview(
    schedule: Annotated[str, Query(min_length=1, max_length=100, description="5-field cron or @hourly/@daily...")],
    time_zone: Annotated[str, Query(alias="timeZone", min_length=1, max_length=64)] = "UTC",
    count: Annotated[int, Query(ge=1, le=20)] = 5,
) -> SchedulePreviewOut:
    return service.preview_schedule(schedule, time_zone, count)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=JobOut,
    responses=responses(502, 503),
    summary="Create a job (with a schedule, in Kubernetes mode, also its TestJob)",
)
def create_job(body: JobIn, session: SessionDep, scheduling: SchedulingDep, tasks: BackgroundTasks) -> JobOut:
    job = service.create_job(session, body, scheduling)
    tasks.add_task(_wake, scheduling)
    return service.job_out(job)


@router.get("/{job_id}", response_model=JobOut, responses=responses(404))
def get_job(job_id: str, session: SessionDep) -> JobOut:
    return service.job_out(service.get_job(session, job_id))


@router.put(
    "/{job_id}",
    response_model=JobOut,
    responses=WRITE_RESPONSES,
    summary="Replace a job (409 for a GitOps job: change its TestJob in git)",
)
def replace_job(
    job_id: str, body: JobIn, session: SessionDep, scheduling: SchedulingDep, tasks: BackgroundTasks
) -> JobOut:
    job = service.replace_job(session, job_id, body, scheduling)
    tasks.add_task(_wake, scheduling)
    return service.job_out(job)


@router.patch(
    "/{job_id}",
    response_model=JobOut,
    responses=WRITE_RESPONSES,
    summary="Update some fields (409 for a GitOps job)",
)
def patch_job(
    job_id: str, body: JobPatch, session: SessionDep, scheduling: SchedulingDep, tasks: BackgroundTasks
) -> JobOut:
    job = service.patch_job(session, job_id, body, scheduling)
    tasks.add_task(_wake, scheduling)
    return service.job_out(job)


@router.delete(
    "/{job_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=WRITE_RESPONSES,
    response_class=Response,
    summary="Delete a job and its TestJob; its runs keep their history (409 for a GitOps job)",
)
def delete_job(job_id: str, session: SessionDep, scheduling: SchedulingDep) -> Response:
    service.delete_job(session, job_id, scheduling)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


add_stored_run_route(
    router,
    "job_id",
    run_service.stored_job_body,
    name="run_job",
    summary="Run a stored job now (a GitOps job: a JobRun of its TestJob, in the API's namespace only)",
    codes=(409,),
)
