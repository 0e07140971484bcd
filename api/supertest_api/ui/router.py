from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from supertest_api.ui import service

router = APIRouter(tags=["ui"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index() -> HTMLResponse:
    # Public: the page itself shows the login form; every /api call it makes is authenticated.
    return HTMLResponse(
        service.index_html(),
        headers={"Content-Security-Policy": service.CONTENT_SECURITY_POLICY, "Cache-Control": "no-store"},
    )
