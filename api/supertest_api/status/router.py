from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request

from supertest_api.auth.deps import require_principal
from supertest_api.common import responses
from supertest_api.deps import BusDep, SessionFactoryDep
from supertest_api.status import service
from supertest_api.status.schemas import SSE_DESCRIPTION
from supertest_api.status.stream_response import EventStreamResponse

router = APIRouter(prefix="/api", tags=["status"], dependencies=[Depends(require_principal)])

SSE_RESPONSES = {
    **responses(400, 404),
    200: {"description": SSE_DESCRIPTION, "content": {"text/event-stream": {"schema": {"type": "string"}}}},
}


# Live status and logs of a run: the test and job paths are the seed's twins of one stream.
async def stream_status(
    run_id: str,
    request: Request,
    bus: BusDep,
    factory: SessionFactoryDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id_query: Annotated[str | None, Query(alias="lastEventId")] = None,
) -> EventStreamResponse:
    after = service.check_last_event_id(last_event_id, last_event_id_query)
    initial = await service.current_phase(factory, run_id)  # 404 before the stream starts
    request.state.run_id = run_id
    return EventStreamResponse(
        service.event_stream(run_id, after, initial, service.hubs_of(request.app.state, bus), factory)
    )


# One endpoint, two paths; the names keep each path's OpenAPI operationId as it was.
for _kind, _name in (("test", "stream_test_status"), ("job", "stream_job_status")):
    router.add_api_route(
        f"/{_kind}-status/sse/{{run_id}}",
        stream_status,
        methods=["GET"],
        name=_name,
        response_class=EventStreamResponse,
        status_code=200,
        responses=SSE_RESPONSES,
        summary=f"Live status and logs of a {_kind} run (SSE)",
    )
