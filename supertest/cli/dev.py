from __future__ import annotations

import ipaddress
import os
import threading
import time
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import typer
from rich.console import Console
from rich.panel import Panel

from supertest.examples import EXAMPLE_SCRIPT, EXAMPLE_TITLE
from supertest.logs import configure_logging
from supertest.settings import ApiSettings, RunBackend

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

HELP = (
    "Run Supertest on this machine: SQLite, an in-process event bus, a local artifacts folder and "
    "runner subprocesses (set DATABASE_URL, REDIS_URL or S3_ENDPOINT to use real services instead). "
    "Migrates the database, seeds an example test on first start, prints the URL and the API key, "
    "and opens the UI."
)
console = Console(stderr=True)


def dev(
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8000, help="Port to bind."),
    artifacts_port: int | None = typer.Option(
        None, help="Port of the artifacts origin that serves reports and attachments (default: --port + 1)."
    ),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser tab."),
    home: Path | None = typer.Option(None, envvar="SUPERTEST_HOME", help="State folder (default ./.supertest)."),
    allow_remote: bool = typer.Option(
        False,
        "--allow-remote",
        help="Allow a non-loopback --host. Anyone who can reach it can run code as you on this machine.",
    ),
) -> None:
    if not allow_remote and not is_loopback(host):
        console.print(
            f"[red]refusing --host {host}:[/] local mode runs every submitted script as you, on this machine, "
            "with your files and network; serving it beyond this machine lets anyone who can reach the port and "
            "get a key do the same. Bind 127.0.0.1 (the default), or pass --allow-remote if you mean it."
        )
        raise typer.Exit(2)
    if home is not None:
        os.environ["SUPERTEST_HOME"] = str(home)
    os.environ.setdefault("RUN_BACKEND", RunBackend.local.value)
    artifacts_port = artifacts_port or port + 1
    # Reports and attachments are user-generated: they get their own origin (another port), never the UI's. `*` is
    # the host the viewer opened the UI by (127.0.0.1 or localhost alike), so links work whichever they typed.
    os.environ.setdefault("ARTIFACTS_URL", f"http://*:{artifacts_port}")
    settings = ApiSettings()
    if not settings.is_local:
        raise typer.BadParameter("supertest dev runs local mode; unset RUN_BACKEND or set it to 'local'")
    configure_logging(settings.log_format, settings.log_level)
    settings.home.mkdir(parents=True, exist_ok=True)

    # The server's imports are here, not at the top: `supertest run` loads this module too.
    import uvicorn

    from supertest.db import migrate as db_migrate

    with console.status("migrating the database"):
        db_migrate.upgrade(settings.effective_database_url)
    key = _ensure_dev_key(settings)
    _seed_example(settings)

    from supertest_api.app import create_app
    from supertest_api.artifacts_origin.app import create_artifacts_app

    url = f"http://{host}:{port}/"
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host=host, port=port, log_config=None, proxy_headers=False)
    )
    artifacts = uvicorn.Server(
        uvicorn.Config(create_artifacts_app(settings), host=host, port=artifacts_port, log_config=None)
    )
    # The artifacts origin runs in a thread (uvicorn leaves signals to the main thread's server) and stops with it.
    artifacts_thread = threading.Thread(target=artifacts.run, name="artifacts-origin", daemon=True)
    artifacts_thread.start()
    threading.Thread(target=_announce, args=(url, key, not no_browser), daemon=True).start()
    try:
        server.run()
    finally:
        artifacts.should_exit = True
        artifacts_thread.join(timeout=10)


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses; names are not resolved (a name may point anywhere)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _ensure_dev_key(settings: ApiSettings) -> str:
    """Local mode keeps its key in a 0600 file so every start can print it again."""
    path = settings.home / "dev-api-key"
    if path.exists():
        return path.read_text().strip()
    from supertest.db import apikeys
    from supertest.db.engine import session_scope

    with session_scope(_sessions(settings)) as session:
        _, key = apikeys.create_key(session, "local-dev")
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key


def _seed_example(settings: ApiSettings) -> None:
    marker = settings.home / ".example-seeded"
    if marker.exists():
        return  # seeded once; a deleted example stays deleted
    from supertest.db import catalog
    from supertest.db.engine import session_scope

    with session_scope(_sessions(settings)) as session:
        if catalog.count_tests(session) == 0:
            catalog.create_test(session, EXAMPLE_TITLE, EXAMPLE_SCRIPT, "javascript", ["example"])
    marker.touch()


def _sessions(settings: ApiSettings) -> sessionmaker[Session]:
    from supertest.db.engine import make_engine, make_session_factory

    return make_session_factory(make_engine(settings.effective_database_url))


def _announce(url: str, key: str, open_browser: bool) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # polling the server we just started, bounded by the deadline
    console.print(
        Panel.fit(
            f"[bold]Supertest is running[/]\n\n  UI:      {url}\n  API key: {key}\n  API docs: {url}docs\n\n"
            "Sign in with the API key, or call the API with `Authorization: Bearer <key>`.\nPress Ctrl+C to stop.",
            title="supertest dev",
        )
    )
    if open_browser:
        webbrowser.open(url)
