from __future__ import annotations

import typer
from starlette.types import ASGIApp

from supertest.logs import configure_logging
from supertest.settings import ApiSettings, ArtifactsSettings

API_HELP = (
    "Serve the HTTP API and UI. RUN_BACKEND=local runs tests as local subprocesses; "
    "RUN_BACKEND=kubernetes creates TestRun/JobRun resources. Run `supertest migrate` first."
)


def api(
    host: str | None = typer.Option(None, help="Bind address (SUPERTEST_HOST, default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (SUPERTEST_PORT, default 8000)."),
) -> None:
    from supertest_api.app import create_app

    settings = ApiSettings()
    configure_logging(settings.log_format, settings.log_level)
    # proxy_headers off: the app applies FORWARDED_ALLOW_IPS itself (create_app), so that setting alone decides.
    _serve(create_app(settings), host or settings.host, port or settings.port, proxy_headers=False)


def _serve(app: ASGIApp, host: str, port: int, proxy_headers: bool = True) -> None:
    import uvicorn  # only the commands that serve need it, not `supertest run`

    uvicorn.run(app, host=host, port=port, log_config=None, proxy_headers=proxy_headers, timeout_graceful_shutdown=20)


ARTIFACTS_HELP = (
    "Serve the artifacts origin: run reports, traces and attachments at ARTIFACTS_URL, authorised by the "
    "run-scoped tokens the API mints (ARTIFACTS_SIGNING_KEY). Reads the stores only; no database, no sessions."
)


def artifacts(
    host: str | None = typer.Option(None, help="Bind address (ARTIFACTS_HOST, default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (ARTIFACTS_PORT, default 8001)."),
) -> None:
    from supertest_api.artifacts_origin.app import create_artifacts_app

    settings = ArtifactsSettings()
    configure_logging(settings.log_format, settings.log_level)
    _serve(create_artifacts_app(settings), host or settings.artifacts_host, port or settings.artifacts_port)
