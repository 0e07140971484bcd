from __future__ import annotations

from sqlalchemy.orm import Session

from supertest.db import runs as run_repo
from supertest.phases import ACTIVE_PHASES, Phase


def counts(session: Session) -> tuple[int, int]:
    """(running, queued), counted from the runs table so every replica agrees."""
    running = run_repo.count_in_phases(session, sorted(ACTIVE_PHASES))
    queued = run_repo.count_in_phases(session, [Phase.QUEUED])
    return running, queued
