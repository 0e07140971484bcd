from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from supertest.kube.models import MAX_JOB_TESTS
from supertest_api.common import CamelModel, RequestModel

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Schedule = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
TimeZone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
# A job runs as one JobRun, whose CRD takes at most MAX_JOB_TESTS tests.
TestIds = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=32)]], Field(max_length=MAX_JOB_TESTS)
]
Policy = Literal["Allow", "Forbid", "Replace"]
Deadline = Annotated[int, Field(ge=1, le=86_400)]
HistoryLimit = Annotated[int, Field(ge=0, le=100)]


class JobIn(RequestModel):
    name: Name
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    schedule: Schedule | None = Field(default=None, description="5-field cron expression (or @hourly, @daily...)")
    time_zone: TimeZone = Field(default="UTC", description="IANA zone the schedule is read in")
    test_ids: TestIds = Field(default_factory=list, description="Stored tests, run in this order")
    concurrency_policy: Policy = Field(default="Allow", description="When a tick comes while a run is active")
    starting_deadline_seconds: Deadline | None = Field(default=None, description="A tick later than this is missed")
    suspend: bool = Field(default=False, description="Stops new scheduled runs; manual runs still work")
    successful_runs_history_limit: HistoryLimit = 3
    failed_runs_history_limit: HistoryLimit = 1


class JobPatch(RequestModel):
    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    schedule: Schedule | None = Field(default=None, description="Empty string removes the schedule")
    time_zone: TimeZone | None = None
    test_ids: TestIds | None = None
    concurrency_policy: Policy | None = None
    starting_deadline_seconds: Deadline | None = None
    suspend: bool | None = None
    successful_runs_history_limit: HistoryLimit | None = None
    failed_runs_history_limit: HistoryLimit | None = None


TestSource = Literal["inline", "configMap", "stored"]


class JobTestOut(CamelModel):
    id: str | None = Field(description="The stored test's id; null for an inline or ConfigMap script of a TestJob")
    title: str = Field(description="The stored test's title, or the TestJob's name for the test")
    source: TestSource = Field(
        default="stored", description="stored (a test of this catalogue), inline or configMap (only in the TestJob)"
    )


class ResourceOut(CamelModel):
    namespace: str
    name: str


class JobOut(CamelModel):
    id: str
    name: str
    description: str
    schedule: str | None
    time_zone: str
    managed_by: str = Field(
        description="api: edited here; gitops: mirrored from a TestJob applied from git (read-only here)"
    )
    resource: ResourceOut | None = Field(
        description="The TestJob this job is (Kubernetes mode: scheduled API jobs and GitOps jobs); null otherwise"
    )
    test_ids: list[str] = Field(description="The stored tests, in order")
    tests: list[JobTestOut] = Field(description="Every test, in order (a GitOps job's inline tests included)")
    concurrency_policy: Policy
    starting_deadline_seconds: int | None
    suspend: bool
    successful_runs_history_limit: int
    failed_runs_history_limit: int
    last_schedule_time: datetime | None
    last_run_at: datetime | None
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class JobListOut(CamelModel):
    items: list[JobOut]
    total: int


class SchedulePreviewOut(CamelModel):
    schedule: str = Field(description="The expression as it would be stored (fields normalised)")
    time_zone: str
    next_runs: list[datetime] = Field(description="Upcoming fire times, UTC")
