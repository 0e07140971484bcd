from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from supertest.events import Summary
from supertest.kube.models import MAX_JOB_TESTS, MAX_TEST_RETRIES
from supertest.phases import Phase
from supertest.sharding import MAX_SHARDS, MIN_SHARDS
from supertest_api.common import CamelModel, RequestModel

Language = Literal["javascript", "typescript"]
RunKindName = Literal["test", "job"]
Priority = Annotated[int, Field(ge=-100, le=100, description="Higher is admitted first; FIFO within a priority")]
Timeout = Annotated[int, Field(ge=1, le=86_400, description="Run timeout; default TEST_EXECUTION_TIMEOUT_MS")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
TestRetries = Annotated[
    int,
    Field(
        ge=0,
        le=MAX_TEST_RETRIES,
        description="Playwright retries of a failing test; one that passes on a retry is counted flaky",
    ),
]


class SubmitTestIn(RequestModel):
    script: str | None = Field(default=None, description="Playwright Test source; omit to run the stored `testId`")
    language: Language | None = None
    title: Title | None = None
    test_id: str | None = Field(default=None, min_length=1, max_length=32)
    priority: Priority = 0
    timeout_seconds: Timeout | None = None
    test_retries: TestRetries = 0


Shards = Annotated[int, Field(ge=MIN_SHARDS, le=MAX_SHARDS, description="Pods running the tests at once")]


class RunOptionsIn(RequestModel):
    """Options when running a stored test or job by id."""

    priority: Priority = 0
    timeout_seconds: Timeout | None = None
    test_retries: TestRetries = 0
    shards: Shards = Field(default=1, description="Pods running a job's tests at once (a single test runs in one)")


class InlineTestIn(RequestModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    script: str
    language: Language = "javascript"


class SubmitJobIn(RequestModel):
    job_id: str | None = Field(
        default=None, min_length=1, max_length=32, description="A stored job; or give `tests` inline"
    )
    tests: list[InlineTestIn] | None = Field(default=None, max_length=MAX_JOB_TESTS)
    title: Title | None = None
    priority: Priority = 0
    timeout_seconds: Timeout | None = None
    test_retries: TestRetries = 0
    workers: int | None = Field(default=None, ge=1, le=64, description="Playwright workers inside the run")
    shards: Shards = 1
    retries: int = Field(default=0, ge=0, le=10, description="Retries after infrastructure errors (a lost shard alone)")


class SubmitOut(CamelModel):
    run_id: str
    kind: RunKindName
    phase: Phase
    report_url: str
    status_url: str


class RunOut(CamelModel):
    run_id: str
    kind: RunKindName
    phase: Phase
    trigger: str
    title: str
    test_id: str | None
    job_id: str | None
    priority: int
    summary: Summary
    report_url: str
    junit_url: str | None = Field(
        default=None, description="Playwright's JUnit XML of the run, once its artifacts are stored"
    )
    status_url: str
    rerun_of: str | None = Field(default=None, description="The run this one re-runs the failed tests of")
    shards: int = Field(default=1, description="Pods the run's tests were split across (1: not sharded)")
    only_tests: list[str] = Field(
        default_factory=list, description="Test ids (file > describe > title) this run is limited to; empty: all"
    )
    message: str | None
    exit_code: int | None
    attempts: int
    cancel_requested: bool
    created_at: datetime
    queued_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


RerunOnly = Literal["failed"]


class RunListOut(CamelModel):
    items: list[RunOut]
    total: int
    limit: int
    offset: int
