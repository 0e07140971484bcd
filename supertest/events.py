"""The run event schema, identical on the Redis stream and the in-process bus."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from supertest.phases import Phase


class EventType(StrEnum):
    STATUS = "status"
    LOG = "log"
    RESULT = "result"


class Summary(BaseModel):
    """A run's test counts: in its result event, in its resource's status.summary and in the API's run."""

    total: int = 0
    passed: int = 0
    failed: int = 0
    flaky: int = 0
    skipped: int = 0
    # Failed tests that are quarantined: reported apart, and they do not fail the run.
    quarantined: int = 0
    # None only where it is not known yet: a run row that has not finished.
    duration_ms: int | None = Field(default=0, alias="durationMs")

    # As a response schema every count is always present (the API's clients may rely on it).
    model_config = {"populate_by_name": True, "json_schema_serialization_defaults_required": True}


class RunEvent(BaseModel):
    type: EventType
    run_id: str = Field(alias="runId")
    ts: datetime = Field(default_factory=lambda: datetime.now(UTC))
    phase: Phase | None = None
    message: str | None = None
    line: str | None = None
    stream: str | None = None
    summary: Summary | None = None
    report_url: str | None = Field(default=None, alias="reportUrl")
    exit_code: int | None = Field(default=None, alias="exitCode")
    # On a result: the failed tests, each {"test": "file > title", "error": its first error line}.
    failures: list[dict[str, str]] | None = None

    model_config = {"populate_by_name": True}

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> RunEvent:
        return cls.model_validate_json(raw)

    @property
    def is_terminal_status(self) -> bool:
        return self.type is EventType.STATUS and self.phase is not None and self.phase.is_terminal


def status_event(run_id: str, phase: Phase, message: str | None = None, **extra: Any) -> RunEvent:
    return RunEvent(type=EventType.STATUS, run_id=run_id, phase=phase, message=message, **extra)


def truncate_line(line: str, max_bytes: int, dropped: int = 0) -> str:
    """`line` cut to at most `max_bytes` of UTF-8, with a marker saying how much was left out (plus `dropped`
    bytes a reader already threw away): one long line must not fill the event stream."""
    data = line.encode("utf-8", errors="replace")
    if len(data) <= max_bytes and not dropped:
        return line
    kept = data[:max_bytes].decode("utf-8", errors="ignore")  # never half a character
    return f"{kept}… [line truncated: {len(data) - len(kept.encode('utf-8')) + dropped} more bytes]"


def log_event(run_id: str, line: str, stream: str = "stdout") -> RunEvent:
    return RunEvent(type=EventType.LOG, run_id=run_id, line=line, stream=stream)


def result_event(
    run_id: str,
    summary: Summary,
    report_url: str | None,
    exit_code: int,
    failures: list[dict[str, str]] | None = None,
) -> RunEvent:
    return RunEvent(
        type=EventType.RESULT,
        run_id=run_id,
        summary=summary,
        report_url=report_url,
        exit_code=exit_code,
        failures=failures or None,
    )


def stream_key(run_id: str) -> str:
    return f"supertest:run:{run_id}:events"


# Line prefix the runner uses when it hands events to its parent process over stdout.
STDOUT_EVENT_PREFIX = "@@supertest-event "


def encode_stdout_event(event: RunEvent) -> str:
    return STDOUT_EVENT_PREFIX + event.to_json()


def decode_stdout_event(line: str) -> RunEvent | None:
    if not line.startswith(STDOUT_EVENT_PREFIX):
        return None
    try:
        return RunEvent.from_json(line[len(STDOUT_EVENT_PREFIX) :])
    except (ValueError, json.JSONDecodeError):
        return None
