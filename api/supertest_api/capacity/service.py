from __future__ import annotations

from sqlalchemy.orm import Session

from supertest.db import runs as run_repo
from supertest.settings import ApiSettings
from supertest_api.capacity.schemas import CapacityOut


def capacity(session: Session, settings: ApiSettings) -> CapacityOut:
    running, queued = run_repo.count_active(session), run_repo.queued_count(session)
    return CapacityOut(
        running=running,
        queued=queued,
        running_capacity=settings.running_capacity,
        queued_capacity=settings.queued_capacity,
    )
