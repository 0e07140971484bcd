from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from supertest_api.common import responses
from supertest_api.deps import ResourcesDep
from supertest_api.ingest import service
from supertest_api.ingest.auth import RunClaimsDep
from supertest_api.ingest.schemas import Accepted, EventBatch

# Not in the public OpenAPI document: only run pods call these, with a token no user holds (and RunEvent as a
# request body would split the UI's Summary type into input and output variants).
router = APIRouter(
    prefix=service.INGEST_PREFIX + "{namespace}/{name}",
    tags=["ingest"],
    responses=responses(400, 403, 404, 413),
    include_in_schema=False,
)


@router.post("/events", status_code=202, summary="Append a run's live events to its own stream (run token only)")
async def post_events(batch: EventBatch, claims: RunClaimsDep, res: ResourcesDep) -> Accepted:
    return Accepted(accepted=await service.publish(res.bus, claims, batch.events))


@router.put(
    "/artifacts/{path:path}",
    status_code=201,
    summary="Store one file under the run's own runs/{name}/ prefix (run token only)",
)
async def put_artifact(path: str, request: Request, claims: RunClaimsDep, res: ResourcesDep) -> Accepted:
    key = service.artifact_key(claims, path)
    store = res.store_for(claims.kind)
    await service.store_artifact(
        store, key, request.stream(), request.headers.get("content-type"), service.MAX_ARTIFACT_BYTES
    )
    return Accepted(accepted=1)


@router.get(
    "/artifacts/{path:path}",
    summary="Read one of the run's own shard outputs, for its merge step (run token only)",
    response_class=StreamingResponse,
)
async def get_artifact(path: str, claims: RunClaimsDep, res: ResourcesDep) -> StreamingResponse:
    # Only GET of a known key: the merge pod knows the shard count and the key layout, so no listing is offered.
    key = service.readable_key(claims, path)
    body = await run_in_threadpool(service.open_artifact, res.store_for(claims.kind), key)
    return StreamingResponse(body, media_type="application/octet-stream")
