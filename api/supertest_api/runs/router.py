from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response, status

from supertest.db import runs as run_repo
from supertest.launch import Trigger
from supertest.phases import Phase
from supertest_api.auth.deps import PrincipalDep, require_principal
from supertest_api.common import responses
from supertest_api.deps import ArtifactLinksDep, ResourcesDep, SessionDep, SettingsDep, get_artifact_links
from supertest_api.metrics.service import get_metrics
from supertest_api.results import service as results_service
from supertest_api.results.schemas import ArtifactListOut
from supertest_api.runs import schemas, service
from supertest_api.runs.urls import RunUrls

router = APIRouter(prefix="/api", tags=["runs"], dependencies=[Depends(require_principal)])


async def run_urls(settings: SettingsDep, links: ArtifactLinksDep) -> RunUrls:
    return RunUrls(settings, links)


RunUrlsDep = Annotated[RunUrls, Depends(run_urls)]


async def submit_context(
    resources: ResourcesDep,
    principal: PrincipalDep,
    request: Request,
    x_supertest_trigger: Annotated[str | None, Header(description="Set to `cli` by the supertest CLI")] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description=(
                "Makes a retry safe: the same key with the same request returns the run made the first time "
                "(same runId, 202, `Idempotent-Replayed: true`), with a different request a 422. "
                "Scoped to the API key; 1-255 printable ASCII characters, e.g. a UUID."
            ),
        ),
    ] = None,
) -> service.SubmitContext:
    # Everything is read off the resources here rather than through one dependency each: FastAPI resolves a
    # dependency at a cost (tens of microseconds), and this is the hot path of every submission.
    settings = resources.settings
    urls = await run_urls(settings, await get_artifact_links(request, resources))
    trigger: Trigger = "manual" if principal.via == "session" else "api"
    if x_supertest_trigger == "cli":
        trigger = "cli"
    return service.SubmitContext(
        settings=settings,
        urls=urls,
        factory=resources.session_factory,
        launcher=resources.launcher,
        metrics=await get_metrics(request),
        trigger=trigger,
        idempotency_key=service.check_idempotency_key(idempotency_key),
        principal_id=principal.key_id,
        route=f"{request.method} {request.scope['path']}",
    )


SubmitContextDep = Annotated[service.SubmitContext, Depends(submit_context)]
SUBMIT_RESPONSES = responses(404, 413, 429)


def submitted_out(
    ctx: service.SubmitContext, submitted: service.Submitted, request: Request, response: Response
) -> schemas.SubmitOut:
    """Every submit route answers alike: 202 and the run, a replay marked as the IETF draft and Stripe do."""
    request.state.run_id = submitted.record.id
    if submitted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return service.submit_out(ctx.urls, submitted.record)


def _submit_endpoint(
    body_type: type[schemas.SubmitTestIn] | type[schemas.SubmitJobIn],
) -> Callable[..., Awaitable[schemas.SubmitOut]]:
    """The endpoint of one submit path: the same function for the test and the job body."""

    async def submit(body: Any, request: Request, response: Response, ctx: SubmitContextDep) -> schemas.SubmitOut:
        return submitted_out(ctx, await service.submit(ctx, body), request, response)

    _annotate(submit, body=body_type)  # the body's model is what FastAPI validates and documents for this path
    return submit


def _annotate(endpoint: Callable[..., Any], **annotations: Any) -> None:
    """Give an endpoint made in a function real annotation objects for some parameters: with postponed
    annotations FastAPI would look the names up in this module, where the factory's arguments are not."""
    signature = inspect.signature(endpoint)
    params = [p.replace(annotation=annotations.get(p.name, p.annotation)) for p in signature.parameters.values()]
    endpoint.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]


def add_stored_run_route(
    router: APIRouter,
    param: str,
    body_of: Callable[[str, schemas.RunOptionsIn], schemas.SubmitTestIn | schemas.SubmitJobIn],
    *,
    name: str,
    summary: str,
    codes: tuple[int, ...] = (),
) -> None:
    """`POST .../{param}/run` of a stored test or job: the submit path with the stored item's id as the body."""

    async def run_stored(
        item_id: str,
        request: Request,
        response: Response,
        ctx: SubmitContextDep,
        options: Annotated[schemas.RunOptionsIn | None, Body()] = None,
    ) -> schemas.SubmitOut:
        submitted = await service.submit(ctx, body_of(item_id, options or schemas.RunOptionsIn()))
        return submitted_out(ctx, submitted, request, response)

    # Ids are at most 32 characters (the submit bodies' limit): a longer one is a 422 here, not a 500 on the way.
    _annotate(run_stored, item_id=Annotated[str, Path(alias=param, max_length=32)])
    router.add_api_route(
        f"/{{{param}}}/run",
        run_stored,
        methods=["POST"],
        name=name,
        status_code=status.HTTP_202_ACCEPTED,
        response_model=schemas.SubmitOut,
        responses={**SUBMIT_RESPONSES, **responses(*codes)},
        summary=summary,
    )


for _path, _body, _name, _summary in (
    ("/test", schemas.SubmitTestIn, "submit_test", "Run one test (inline script, or a stored test by testId)"),
    (
        "/jobs/run",
        schemas.SubmitJobIn,
        "submit_job",
        "Run a job: a stored job by jobId, or inline tests, in one runner with one combined report",
    ),
):
    router.add_api_route(
        _path,
        _submit_endpoint(_body),
        methods=["POST"],
        name=_name,
        status_code=status.HTTP_202_ACCEPTED,
        response_model=schemas.SubmitOut,
        responses=SUBMIT_RESPONSES,
        summary=_summary,
    )


@router.get("/runs", response_model=schemas.RunListOut, responses=responses(), summary="Run history, newest first")
def list_runs(
    session: SessionDep,
    urls: RunUrlsDep,
    phase: Annotated[list[Phase] | None, Query(description="Repeatable: ?phase=Queued&phase=Running")] = None,
    kind: schemas.RunKindName | None = None,
    trigger: Annotated[str | None, Query(max_length=16)] = None,
    test_id: Annotated[str | None, Query(alias="testId", max_length=32)] = None,
    job_id: Annotated[str | None, Query(alias="jobId", max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    # Bounded so a huge offset is a 422, not a database overflow (Postgres OFFSET is a bigint).
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> schemas.RunListOut:
    flt = run_repo.RunFilter(
        phase=[p.value for p in phase or []],
        kind=kind,
        trigger=trigger,
        test_id=test_id,
        job_id=job_id,
        limit=limit,
        offset=offset,
    )
    return service.list_runs(session, urls, flt)


@router.get("/runs/{run_id}", response_model=schemas.RunOut, responses=responses(404), summary="One run")
def get_run(run_id: str, request: Request, session: SessionDep, urls: RunUrlsDep) -> schemas.RunOut:
    request.state.run_id = run_id
    return service.run_out(urls, service.get_run(session, run_id))


@router.post(
    "/runs/{run_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.RunOut,
    responses=responses(404, 409),
    summary="Cancel a queued or running run (the result is Cancelled)",
)
async def cancel_run(run_id: str, request: Request, ctx: SubmitContextDep) -> schemas.RunOut:
    request.state.run_id = run_id
    return service.run_out(ctx.urls, await service.cancel_run(ctx, run_id))


@router.post(
    "/runs/{run_id}/rerun",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.SubmitOut,
    responses=responses(400, 404, 409, 429),
    summary="Re-run the failed tests of a finished run, as a new run linked to it (rerunOf)",
)
async def rerun_run(
    run_id: str,
    request: Request,
    response: Response,
    ctx: SubmitContextDep,
    only: Annotated[schemas.RerunOnly, Query(description="Which tests: `failed` (failed or timed out)")],
) -> schemas.SubmitOut:
    del only  # one choice today; the parameter keeps room for others and makes the intent explicit
    request.state.run_id = run_id
    return submitted_out(ctx, await service.rerun_failed(ctx, run_id), request, response)


@router.get(
    "/runs/{run_id}/artifacts",
    response_model=ArtifactListOut,
    responses=responses(404),
    summary="Screenshots, videos and traces attached to a run's report (served by the artifacts origin)",
)
async def list_artifacts(run_id: str, request: Request, res: ResourcesDep, links: ArtifactLinksDep) -> ArtifactListOut:
    request.state.run_id = run_id
    return await results_service.list_artifacts(res, links, run_id)
