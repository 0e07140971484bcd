from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from supertest.events import RunEvent

MAX_EVENTS_PER_BATCH = 500


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[RunEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)


class Accepted(BaseModel):
    accepted: int
