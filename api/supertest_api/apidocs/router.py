from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from supertest_api.apidocs import service

router = APIRouter(tags=["docs"], include_in_schema=False)


@router.get(service.DOCS_PATH, response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    # Public, like /openapi.json that it renders: calls made from the page need the Authorize button's key.
    openapi_url = request.app.openapi_url
    assert openapi_url is not None, "create_app keeps /openapi.json"
    page = service.swagger_page(
        title=request.app.title,
        openapi_url=openapi_url,
        root_path=request.scope.get("root_path", "").rstrip("/"),
        parameters=request.app.swagger_ui_parameters,
    )
    return HTMLResponse(page.html, headers={"Content-Security-Policy": page.csp, "Cache-Control": "no-store"})
