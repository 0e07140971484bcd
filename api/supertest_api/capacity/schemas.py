from __future__ import annotations

from supertest_api.common import CamelModel


class CapacityOut(CamelModel):
    running: int
    queued: int
    running_capacity: int
    queued_capacity: int
