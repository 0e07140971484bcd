from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from supertest.settings import CoreSettings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

HELP = "Create, list and revoke API keys. Keys are stored hashed; a new key is printed once."
app = typer.Typer(no_args_is_help=True)


def _sessions() -> sessionmaker[Session]:
    # Imported here, not at the top: `supertest run` loads this module too, and should not pay for SQLAlchemy.
    from supertest.db.engine import make_engine, make_session_factory

    return make_session_factory(make_engine(CoreSettings().effective_database_url))


@app.command("create", help="Create a key and print it (it cannot be shown again).")
def create(
    name: str = typer.Option("default", "--name", "-n", help="A label to recognise the key by."),
    job: str | None = typer.Option(
        None, "--job", "-j", help="A CI trigger key: it may only run this job (name or id) and read its runs."
    ),
) -> None:
    from supertest.db import apikeys
    from supertest.db.engine import session_scope

    with session_scope(_sessions()) as session:
        job_id: str | None = None
        if job is not None:
            found = apikeys.find_job(session, job)
            if found is None:
                raise typer.BadParameter(f"no single job named or with id {job!r}", param_hint="--job")
            job_id = found.id
        record, key = apikeys.create_key(session, name, job_id=job_id)
    scope = f", scoped to job {job_id}" if job_id else ""
    Console(stderr=True).print(f"created key [bold]{record.name}[/] (id {record.id}{scope}); store it now:")
    typer.echo(key)


@app.command("list", help="List keys (never the keys themselves).")
def list_keys() -> None:
    table = Table("id", "name", "prefix", "job", "created", "last used", "revoked")
    from supertest.db import apikeys
    from supertest.db.engine import session_scope

    with session_scope(_sessions()) as session:
        for k in apikeys.list_keys(session):
            table.add_row(
                k.id,
                k.name,
                k.prefix + "…",
                k.job_id or "(all)",
                str(k.created_at),
                str(k.last_used_at or "-"),
                str(k.revoked_at or "-"),
            )
    Console().print(table)


@app.command("revoke", help="Revoke a key by id.")
def revoke(key_id: str) -> None:
    from supertest.db import apikeys
    from supertest.db.engine import session_scope

    with session_scope(_sessions()) as session:
        found = apikeys.revoke_key(session, key_id)
    if not found:
        raise typer.BadParameter(f"no key with id {key_id}")
    typer.echo(f"revoked {key_id}")
