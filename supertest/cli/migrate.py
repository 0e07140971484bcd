from __future__ import annotations

import typer
from rich.console import Console

from supertest.settings import CoreSettings

HELP = "Upgrade the database schema to the latest revision (Alembic). Run it before starting the API."


def migrate(
    revision: str = typer.Option("head", help="Target revision; 'head' is the newest."),
    database_url: str | None = typer.Option(None, envvar="DATABASE_URL", help="Overrides DATABASE_URL."),
) -> None:
    settings = CoreSettings() if database_url is None else CoreSettings(DATABASE_URL=database_url)
    url = settings.effective_database_url
    console = Console(stderr=True)
    console.print(f"[bold]migrating[/] {_redact(url)} to {revision}")
    from supertest.db import migrate as db_migrate  # Alembic and SQLAlchemy: only when migrating

    db_migrate.upgrade(url, revision)
    console.print("[green]schema is up to date[/]")


def _redact(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
