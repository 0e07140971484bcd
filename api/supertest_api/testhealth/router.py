from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from supertest_api.auth.deps import PrincipalDep, require_principal
from supertest_api.common import responses
from supertest_api.deps import SessionDep, SettingsDep
from supertest_api.testhealth import service
from supertest_api.testhealth.schemas import (
    HealthOnly,
    HealthSort,
    QuarantineIn,
    QuarantineListOut,
    QuarantineOut,
    TestHealthListOut,
)

# Under /api/tests, next to the catalogue: included before its router, whose /api/tests/{id} would match "health".
router = APIRouter(prefix="/api/tests", tags=["test health"], dependencies=[Depends(require_principal)])

# A test id is "file > describe > title": any text, slashes included (the file's path), hence the path converter.
TestIdPath = Annotated[str, Path(min_length=1, max_length=1024, description="file > title path")]


@router.get("/health", response_model=TestHealthListOut, responses=responses(), summary="Per-test health")
def list_health(
    session: SessionDep,
    settings: SettingsDep,
    sort: Annotated[HealthSort, Query()] = "flakyRate",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    q: Annotated[str | None, Query(max_length=200, description="Part of the test id")] = None,
    file: Annotated[str | None, Query(max_length=512, description="One spec file's tests")] = None,
    only: Annotated[HealthOnly | None, Query(description="Flaky, failing or quarantined tests only")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    window_results: Annotated[int, Query(alias="windowResults", ge=1, le=200)] = 50,
    window_days: Annotated[int, Query(alias="windowDays", ge=1, le=90)] = 14,
) -> TestHealthListOut:
    base = (settings.public_url or "").rstrip("/")
    query = service.HealthQuery(
        sort=sort,
        descending=order == "desc",
        q=q,
        file=file,
        only=only,
        limit=limit,
        offset=offset,
        window_results=window_results,
        window_days=window_days,
    )
    return service.list_health(session, query, lambda run_id: f"{base}/runs/{run_id}")


@router.get("/quarantine", response_model=QuarantineListOut, responses=responses(), summary="Quarantined tests")
def list_quarantine(session: SessionDep) -> QuarantineListOut:
    items = service.list_quarantine(session)
    return QuarantineListOut(items=items, total=len(items))


@router.put(
    "/quarantine/{test_id:path}",
    response_model=QuarantineOut,
    responses=responses(),
    summary="Quarantine a test: it still runs, its failure is reported as quarantined and does not fail the run",
)
def put_quarantine(
    test_id: TestIdPath, body: QuarantineIn, session: SessionDep, principal: PrincipalDep
) -> QuarantineOut:
    return service.quarantine(session, test_id, body.reason, principal.key_name)


@router.delete(
    "/quarantine/{test_id:path}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(404),
    summary="Release a test from quarantine",
)
def delete_quarantine(test_id: TestIdPath, session: SessionDep) -> Response:
    service.release(session, test_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
