from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette import EventSourceResponse
from starlette.types import Message, Send

from supertest_api.auth.deps import require_principal
from supertest_api.common import responses
from supertest_api.deps import BusDep, SessionFactoryDep
from supertest_api.status import service
from supertest_api.status.schemas import SSE_DESCRIPTION

router = APIRouter(prefix="/api", tags=["status"], dependencies=[Depends(require_principal)])

PING_SECONDS = 15
SSE_RESPONSES = {
    **responses(400, 404),
    200: {"description": SSE_DESCRIPTION, "content": {"text/event-stream": {"schema": {"type": "string"}}}},
}


class RunEventsResponse(EventSourceResponse):
    """sse-starlette's response, minus a cancel scope per chunk when there is no send timeout.

    A run's frames go to every viewer, so the per-chunk cost is paid a thousand times per frame; a cancel scope
    that can never fire (no send_timeout) was the largest part of it. Slow viewers are handled by the hub instead
    (status/hub.py: a full queue drops the viewer).
    """

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        if self.send_timeout is None:
            await send(message)
        else:
            await super()._send_with_timeout(send, message)


# Live status and logs of a run: the test and job paths are the seed's twins of one stream.
async def stream_status(
    run_id: str,
    request: Request,
    bus: BusDep,
    factory: SessionFactoryDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id_query: Annotated[str | None, Query(alias="lastEventId")] = None,
) -> RunEventsResponse:
    after = service.check_last_event_id(last_event_id, last_event_id_query)
    initial = await service.current_phase(factory, run_id)  # 404 before the stream starts
    request.state.run_id = run_id
    return RunEventsResponse(
        service.event_stream(run_id, after, initial, service.hubs_of(request.app.state, bus), factory),
        ping=PING_SECONDS,
        headers={"Cache-Control": "no-store"},
    )


# One endpoint, two paths; the names keep each path's OpenAPI operationId as it was.
for _kind, _name in (("test", "stream_test_status"), ("job", "stream_job_status")):
    router.add_api_route(
        f"/{_kind}-status/sse/{{run_id}}",
        stream_status,
        methods=["GET"],
        name=_name,
        response_class=RunEventsResponse,
        responses=SSE_RESPONSES,
        summary=f"Live status and logs of a {_kind} run (SSE)",
    )
