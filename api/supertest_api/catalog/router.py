from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from supertest_api.auth.deps import require_principal
from supertest_api.catalog import service
from supertest_api.catalog.schemas import TestIn, TestListOut, TestOut, TestPatch, TestSummaryOut
from supertest_api.common import responses
from supertest_api.deps import SessionDep, SettingsDep
from supertest_api.runs import service as run_service
from supertest_api.runs.router import add_stored_run_route

router = APIRouter(prefix="/api/tests", tags=["tests"], dependencies=[Depends(require_principal)])


@router.get("", response_model=TestListOut, responses=responses(), summary="List stored tests")
def list_tests(
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200, description="Title contains (case-insensitive)")] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
) -> TestListOut:
    tests = service.list_tests(session, q, tag)
    return TestListOut(items=[TestSummaryOut.model_validate(t) for t in tests], total=len(tests))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TestOut, responses=responses(413))
def create_test(body: TestIn, session: SessionDep, settings: SettingsDep) -> TestOut:
    return TestOut.model_validate(service.create_test(session, settings, body))


@router.get("/{test_id}", response_model=TestOut, responses=responses(404))
def get_test(test_id: str, session: SessionDep) -> TestOut:
    return TestOut.model_validate(service.get_test(session, test_id))


@router.put("/{test_id}", response_model=TestOut, responses=responses(404, 413), summary="Replace a test")
def replace_test(test_id: str, body: TestIn, session: SessionDep, settings: SettingsDep) -> TestOut:
    return TestOut.model_validate(service.replace_test(session, settings, test_id, body))


@router.patch("/{test_id}", response_model=TestOut, responses=responses(404, 413), summary="Update some fields")
def patch_test(test_id: str, body: TestPatch, session: SessionDep, settings: SettingsDep) -> TestOut:
    return TestOut.model_validate(service.patch_test(session, settings, test_id, body))


@router.delete(
    "/{test_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 409), response_class=Response
)
def delete_test(test_id: str, session: SessionDep) -> Response:
    service.delete_test(session, test_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


add_stored_run_route(router, "test_id", run_service.stored_test_body, name="run_test", summary="Run a stored test")
