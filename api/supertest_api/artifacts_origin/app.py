"""The artifacts origin's ASGI app: `GET|HEAD /{token}/runs/{runId}/{path}`, nothing else.

It reads no cookie and sets none, holds no session secret and no database: the token names the run and its store,
and the MAC says the API minted it. What runs here (the report's scripts) finds nothing to steal.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from supertest.artifacts import ArtifactStore, InvalidArtifactPath, create_store, tokens
from supertest.artifacts.layout import REPORT_INDEX, artifact_scope, check_run_id
from supertest.settings import ArtifactsSettings
from supertest_api.artifacts_origin import files
from supertest_api.artifacts_origin.links import load_artifacts_key
from supertest_api.artifacts_origin.policy import security_headers
from supertest_api.errors import Forbidden, NotFoundError, install_error_handlers


def create_artifacts_app(settings: ArtifactsSettings) -> FastAPI:
    key = load_artifacts_key(settings)
    stores: dict[str, ArtifactStore] = {kind: create_store(settings, kind) for kind in ("test", "job")}
    if settings.s3_endpoint is None:
        for store in stores.values():
            store.ensure_ready()
    app = FastAPI(title="Supertest artifacts", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app)

    def grant(token: str, run_id: str) -> tokens.RunGrant:
        try:
            check_run_id(run_id)
        except InvalidArtifactPath as exc:
            raise NotFoundError(f"run {run_id!r} not found") from exc
        try:
            return tokens.verify(key, token, run_id)
        except tokens.InvalidToken as exc:
            raise Forbidden(str(exc)) from exc

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.api_route("/{token}/runs/{run_id}", methods=["GET", "HEAD"], include_in_schema=False)
    def run_root(token: str, run_id: str) -> RedirectResponse:
        grant(token, run_id)
        return RedirectResponse(artifact_scope(token, run_id) + "report/" + REPORT_INDEX, status_code=307)

    @app.api_route("/{token}/runs/{run_id}/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def run_file(token: str, run_id: str, path: str, request: Request) -> Response:
        run = grant(token, run_id)
        artifact = await files.locate(stores[run.kind], run_id, path)
        headers = files.file_headers(artifact)
        headers.update(security_headers(token, run_id, artifact.path, headers["Content-Type"]))
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
        byte_range = files.parse_range(request.headers.get("range"), artifact.info.size)
        status = 200
        length = artifact.info.size
        if byte_range is not None:
            status = 206
            length = byte_range.length
            headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{artifact.info.size}"
        headers["Content-Length"] = str(length)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers)
        body = await files.open_stream(artifact, byte_range)
        return StreamingResponse(body, status_code=status, headers=headers, media_type=headers["Content-Type"])

    return app
