from __future__ import annotations

from sqlalchemy.orm import Session

from supertest.settings import ApiSettings
from supertest_api.capacity import repository
from supertest_api.capacity.schemas import CapacityOut


def capacity(session: Session, settings: ApiSettings) -> CapacityOut:
    running, queued = repository.counts(session)
    return CapacityOut(
        running=running,
        queued=queued,
        running_capacity=settings.running_capacity,
        queued_capacity=settings.queued_capacity,
    )
