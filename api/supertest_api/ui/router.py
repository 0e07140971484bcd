from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from supertest_api.deps import ArtifactLinksDep
from supertest_api.ui import service

router = APIRouter(tags=["ui"], include_in_schema=False)


def _page(links: ArtifactLinksDep) -> HTMLResponse:
    # Public: the app itself shows the login form; every /api call it makes is authenticated.
    try:
        page = service.index_page(links.origin if links is not None else None)
    except service.UiNotBuilt as missing:
        return HTMLResponse(
            missing.page,
            status_code=503,
            headers={"Content-Security-Policy": service.NOT_BUILT_POLICY, "Cache-Control": "no-store"},
        )
    return HTMLResponse(page.html, headers={"Content-Security-Policy": page.csp, "Cache-Control": "no-store"})


def _register() -> None:
    # One explicit GET route per client-side page (not a catch-all), so unknown paths and other methods
    # keep their plain 404/405 answers.
    for path in service.PAGE_PATHS:
        router.add_api_route(path, _page, methods=["GET"], response_class=HTMLResponse, name=f"ui:{path}")


_register()
