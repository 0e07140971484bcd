from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from supertest.db import apikeys
from supertest.db.engine import make_engine, make_session_factory, session_scope
from supertest.settings import CoreSettings

HELP = "Create, list and revoke API keys. Keys are stored hashed; a new key is printed once."
app = typer.Typer(no_args_is_help=True)


def _sessions() -> sessionmaker[Session]:
    return make_session_factory(make_engine(CoreSettings().effective_database_url))


@app.command("create", help="Create a key and print it (it cannot be shown again).")
def create(name: str = typer.Option("default", "--name", "-n", help="A label to recognise the key by.")) -> None:
    with session_scope(_sessions()) as session:
        record, key = apikeys.create_key(session, name)
    Console(stderr=True).print(f"created key [bold]{record.name}[/] (id {record.id}); store it now:")
    typer.echo(key)


@app.command("list", help="List keys (never the keys themselves).")
def list_keys() -> None:
    table = Table("id", "name", "prefix", "created", "last used", "revoked")
    with session_scope(_sessions()) as session:
        for k in apikeys.list_keys(session):
            table.add_row(
                k.id, k.name, k.prefix + "…", str(k.created_at), str(k.last_used_at or "-"), str(k.revoked_at or "-")
            )
    Console().print(table)


@app.command("revoke", help="Revoke a key by id.")
def revoke(key_id: str) -> None:
    with session_scope(_sessions()) as session:
        found = apikeys.revoke_key(session, key_id)
    if not found:
        raise typer.BadParameter(f"no key with id {key_id}")
    typer.echo(f"revoked {key_id}")
