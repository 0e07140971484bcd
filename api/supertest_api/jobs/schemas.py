from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from supertest_api.common import CamelModel

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Schedule = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
TimeZone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
TestIds = Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=32)]], Field(max_length=200)]


class JobIn(CamelModel):
    name: Name
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    schedule: Schedule | None = Field(default=None, description="5-field cron expression (or @hourly, @daily...)")
    time_zone: TimeZone = Field(default="UTC", description="IANA zone the schedule is read in")
    test_ids: TestIds = Field(default_factory=list, description="Stored tests, run in this order")


class JobPatch(CamelModel):
    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    schedule: Schedule | None = Field(default=None, description="Empty string removes the schedule")
    time_zone: TimeZone | None = None
    test_ids: TestIds | None = None


class JobTestOut(CamelModel):
    id: str
    title: str


class JobOut(CamelModel):
    id: str
    name: str
    description: str
    schedule: str | None
    time_zone: str
    managed_by: str
    test_ids: list[str]
    tests: list[JobTestOut]
    last_run_at: datetime | None
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class JobListOut(CamelModel):
    items: list[JobOut]
    total: int
