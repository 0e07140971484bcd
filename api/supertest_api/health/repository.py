from __future__ import annotations

from sqlalchemy import Engine, text

from supertest.db.migrate import current_revision, head_revision


def ping_database(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def schema_revisions(engine: Engine) -> tuple[str | None, str | None]:
    """(current, head)."""
    return current_revision(engine), head_revision()
