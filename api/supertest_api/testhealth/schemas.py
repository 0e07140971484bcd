from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from supertest_api.common import CamelModel, RequestModel

HealthSort = Literal["testId", "passRate", "flakyRate", "medianMs", "p95Ms", "runs", "lastFailureAt"]
HealthOnly = Literal["flaky", "failing", "quarantined"]


class LastFailureOut(CamelModel):
    at: datetime
    run_id: str
    run_url: str = Field(description="The run's page in the UI")
    message: str | None


class TestHealthOut(CamelModel):
    __test__ = False  # not a pytest class

    test_id: str
    file: str
    runs: int = Field(description="Results in the window that executed (skipped ones left out)")
    passed: int
    failed: int = Field(description="Failed, timed out or quarantined")
    flaky: int
    pass_rate: float | None = Field(description="(passed + flaky) / runs")
    flaky_rate: float | None = Field(description="flaky / runs")
    median_ms: float | None
    p95_ms: float | None
    durations_ms: list[int] = Field(description="Durations in the window, oldest first (a sparkline)")
    last_failure: LastFailureOut | None
    quarantined: bool


class TestHealthListOut(CamelModel):
    items: list[TestHealthOut]
    total: int
    limit: int
    offset: int
    window_results: int
    window_days: int


class QuarantineIn(RequestModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class QuarantineOut(CamelModel):
    test_id: str
    reason: str
    by: str
    created_at: datetime


class QuarantineListOut(CamelModel):
    items: list[QuarantineOut]
    total: int
