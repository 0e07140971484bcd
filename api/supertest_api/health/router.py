from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from supertest_api.errors import ServiceUnavailable
from supertest_api.health import service
from supertest_api.health.schemas import HealthOut, ReadyOut
from supertest_api.resources import AppResources

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, summary="Liveness: the process answers")
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "A dependency is down"}},
    summary="Readiness: each dependency (database, schema, redis or events, s3 or artifacts, kubernetes) by name",
)
async def readyz(request: Request) -> JSONResponse:
    resources: AppResources | None = getattr(request.app.state, "resources", None)
    if resources is None:
        raise ServiceUnavailable("the API is starting or stopping")
    result = await service.readiness(resources)
    return JSONResponse(
        result.model_dump(mode="json", by_alias=True), status_code=200 if result.status == "ready" else 503
    )
