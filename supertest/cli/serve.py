from __future__ import annotations

import typer
import uvicorn

from supertest.logs import configure_logging
from supertest.settings import ApiSettings

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
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        proxy_headers=False,  # the app applies FORWARDED_ALLOW_IPS itself (create_app)
        timeout_graceful_shutdown=20,
    )
