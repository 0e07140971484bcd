from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from supertest.db import runs as run_repo
from supertest.db.engine import session_scope
from supertest.phases import Phase

RunNotFound = run_repo.RunNotFound


def current_phase(factory: sessionmaker[Session], run_id: str) -> Phase:
    with session_scope(factory) as session:
        return Phase(run_repo.get(session, run_id).phase)
