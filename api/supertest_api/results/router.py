from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from supertest.artifacts.layout import RESULTS_ROUTE, report_url
from supertest_api.auth.deps import require_principal
from supertest_api.common import responses
from supertest_api.deps import ResourcesDep
from supertest_api.results import service

router = APIRouter(prefix=RESULTS_ROUTE, tags=["results"], dependencies=[Depends(require_principal)])

FILE_RESPONSES = {
    **responses(400, 404, 416),
    200: {"description": "The file, streamed", "content": {"application/octet-stream": {}}},
    206: {"description": "The requested byte range (Range: bytes=start-end)"},
}


def _to_report(run_id: str) -> RedirectResponse:
    return RedirectResponse(report_url(run_id), status_code=307)


@router.get("/{run_id}", include_in_schema=False)
def report_root(run_id: str) -> RedirectResponse:
    return _to_report(run_id)


@router.get(
    "/{run_id}/{path:path}",
    response_class=Response,
    responses=FILE_RESPONSES,
    summary="A file of a run's artifacts (report/index.html, results.json, logs.txt, videos, traces)",
)
async def get_file(run_id: str, path: str, request: Request, res: ResourcesDep) -> Response:
    return await _serve(run_id, path, request, res)


@router.head("/{run_id}/{path:path}", response_class=Response, include_in_schema=False)
async def head_file(run_id: str, path: str, request: Request, res: ResourcesDep) -> Response:
    return await _serve(run_id, path, request, res)


async def _serve(run_id: str, path: str, request: Request, res: ResourcesDep) -> Response:
    request.state.run_id = run_id
    if path == "":
        return _to_report(run_id)
    artifact = await service.locate(res, run_id, path)
    headers = service.headers_for(run_id, artifact)
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
    byte_range = service.parse_range(request.headers.get("range"), artifact.info.size)
    status = 200
    length = artifact.info.size
    if byte_range is not None:
        status = 206
        length = byte_range.length
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{artifact.info.size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    body = await service.open_stream(artifact, byte_range)
    return StreamingResponse(body, status_code=status, headers=headers, media_type=headers["Content-Type"])
