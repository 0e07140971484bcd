"""What the runner reported on its Redis stream: summary, report URL and its closing message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
import structlog

from supertest.events import EventType, RunEvent, stream_key
from supertest.phases import Phase

log = structlog.get_logger("supertest.operator.runner_events")
# The result and the final status are the runner's last two entries; a margin covers late log lines.
TAIL = 50


@dataclass(frozen=True, slots=True)
class RunnerReport:
    phase: Phase | None = None
    message: str | None = None
    summary: dict[str, int] | None = None
    report_url: str | None = None
    exit_code: int | None = None


def summarise(events: list[RunEvent]) -> RunnerReport:
    """Newest-last events -> the runner's verdict (pure)."""
    phase = message = report_url = None
    summary: dict[str, int] | None = None
    exit_code: int | None = None
    for event in events:
        if event.type is EventType.RESULT:
            if event.summary is not None:
                summary = cast(dict[str, int], event.summary.model_dump(by_alias=True))
            report_url = event.report_url or report_url
            exit_code = event.exit_code if event.exit_code is not None else exit_code
        elif event.type is EventType.STATUS and event.phase is not None and event.phase.is_terminal:
            phase, message = event.phase, event.message
    return RunnerReport(phase=phase, message=message, summary=summary, report_url=report_url, exit_code=exit_code)


async def read_report(redis: aioredis.Redis | None, run_id: str) -> RunnerReport:
    if redis is None:
        return RunnerReport()
    try:
        raw = cast(list[tuple[str, dict[str, str]]], await redis.xrevrange(stream_key(run_id), count=TAIL))
    except (aioredis.RedisError, OSError) as exc:
        log.warning("runner_events_unreadable", run=run_id, error=str(exc))
        return RunnerReport()
    events: list[RunEvent] = []
    for _id, fields in reversed(raw):
        try:
            events.append(RunEvent.from_json(fields["event"]))
        except (KeyError, ValueError):
            continue
    return summarise(events)


def report_fields(report: RunnerReport) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if report.summary is not None:
        fields["summary"] = report.summary
    if report.report_url:
        fields["reportURL"] = report.report_url
    return fields
