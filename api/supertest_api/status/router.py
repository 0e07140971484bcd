from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette import EventSourceResponse

from supertest_api.common import responses
from supertest_api.deps import BusDep, SessionFactoryDep, require_principal
from supertest_api.status import service
from supertest_api.status.schemas import SSE_DESCRIPTION

router = APIRouter(prefix="/api", tags=["status"], dependencies=[Depends(require_principal)])

PING_SECONDS = 15
SSE_RESPONSES = {
    **responses(400, 404),
    200: {"description": SSE_DESCRIPTION, "content": {"text/event-stream": {"schema": {"type": "string"}}}},
}


async def _stream(
    run_id: str,
    request: Request,
    bus: BusDep,
    factory: SessionFactoryDep,
    last_event_id: str | None,
    last_event_id_query: str | None,
) -> EventSourceResponse:
    after = service.check_last_event_id(last_event_id, last_event_id_query)
    initial = await service.current_phase(factory, run_id)  # 404 before the stream starts
    request.state.run_id = run_id
    return EventSourceResponse(
        service.event_stream(run_id, after, initial, bus, factory),
        ping=PING_SECONDS,
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/test-status/sse/{run_id}",
    response_class=EventSourceResponse,
    responses=SSE_RESPONSES,
    summary="Live status and logs of a test run (SSE)",
)
async def stream_test_status(
    run_id: str,
    request: Request,
    bus: BusDep,
    factory: SessionFactoryDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id_query: Annotated[str | None, Query(alias="lastEventId")] = None,
) -> EventSourceResponse:
    return await _stream(run_id, request, bus, factory, last_event_id, last_event_id_query)


@router.get(
    "/job-status/sse/{run_id}",
    response_class=EventSourceResponse,
    responses=SSE_RESPONSES,
    summary="Live status and logs of a job run (SSE)",
)
async def stream_job_status(
    run_id: str,
    request: Request,
    bus: BusDep,
    factory: SessionFactoryDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id_query: Annotated[str | None, Query(alias="lastEventId")] = None,
) -> EventSourceResponse:
    return await _stream(run_id, request, bus, factory, last_event_id, last_event_id_query)
