from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from supertest.db import runs as run_repo
from supertest.db.engine import session_scope

RunNotFound = run_repo.RunNotFound


def run_kind(factory: sessionmaker[Session], run_id: str) -> str:
    with session_scope(factory) as session:
        return run_repo.get(session, run_id).kind
