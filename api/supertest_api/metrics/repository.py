from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from supertest.db import runs as run_repo
from supertest.db.engine import session_scope
from supertest.phases import ACTIVE_PHASES, Phase


def run_counts(factory: sessionmaker[Session]) -> tuple[int, int]:
    """(queued, running) straight from the runs table, the source of truth for capacity."""
    with session_scope(factory) as session:
        queued = run_repo.count_in_phases(session, [Phase.QUEUED])
        running = run_repo.count_in_phases(session, sorted(ACTIVE_PHASES))
    return queued, running
