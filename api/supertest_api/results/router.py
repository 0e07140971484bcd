"""/api/test-results: the stable address of a run's files (CRD status, runner events, CLI). It serves no bytes:
an authorised viewer is redirected to the artifacts origin with a fresh run-scoped token."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from supertest.artifacts.layout import REPORT_INDEX, RESULTS_ROUTE
from supertest_api.auth.deps import require_principal
from supertest_api.common import responses
from supertest_api.deps import ArtifactLinksDep, ResourcesDep
from supertest_api.results import service

router = APIRouter(prefix=RESULTS_ROUTE, tags=["results"], dependencies=[Depends(require_principal)])

REDIRECT_RESPONSES = {
    **responses(400, 404),
    307: {"description": "The file on the artifacts origin (ARTIFACTS_URL), under a run-scoped expiring token"},
}


async def _redirect(
    run_id: str, path: str, request: Request, res: ResourcesDep, links: ArtifactLinksDep
) -> RedirectResponse:
    request.state.run_id = run_id
    location = await service.artifact_location(res, links, run_id, path or "report/" + REPORT_INDEX)
    # The token is a credential for this viewer: keep it out of shared caches.
    return RedirectResponse(location, status_code=307, headers={"Cache-Control": "private, no-store"})


@router.get("/{run_id}", include_in_schema=False)
async def report_root(run_id: str, request: Request, res: ResourcesDep, links: ArtifactLinksDep) -> RedirectResponse:
    return await _redirect(run_id, "", request, res, links)


@router.get(
    "/{run_id}/{path:path}",
    status_code=307,
    responses=REDIRECT_RESPONSES,
    summary="Redirect to a file of a run's artifacts on the artifacts origin (report/index.html, logs.txt, ...)",
)
async def get_file(
    run_id: str, path: str, request: Request, res: ResourcesDep, links: ArtifactLinksDep
) -> RedirectResponse:
    return await _redirect(run_id, path, request, res, links)


@router.head("/{run_id}/{path:path}", include_in_schema=False)
async def head_file(
    run_id: str, path: str, request: Request, res: ResourcesDep, links: ArtifactLinksDep
) -> RedirectResponse:
    return await _redirect(run_id, path, request, res, links)
