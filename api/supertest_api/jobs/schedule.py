"""Cron schedules for jobs: the core schedule math, with its errors mapped to API validation errors."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from supertest import schedule
from supertest_api.errors import ValidationFailed


def check_time_zone(name: str) -> ZoneInfo:
    try:
        return schedule.parse_zone(name)
    except schedule.InvalidSchedule as exc:
        raise ValidationFailed(str(exc), details=[{"loc": ["body", "timeZone"], "msg": "unknown time zone"}]) from exc


def check_schedule(expr: str) -> str:
    normalised = " ".join(expr.split())
    try:
        schedule.validate(normalised)
    except schedule.InvalidSchedule as exc:
        raise ValidationFailed(
            f"invalid cron schedule: {exc}; expected 'minute hour day-of-month month day-of-week' "
            "(e.g. '*/15 * * * *') or @hourly/@daily/@weekly",
            details=[{"loc": ["body", "schedule"], "msg": "invalid cron expression"}],
        ) from exc
    return normalised


def next_runs(expr: str | None, time_zone: str, count: int = 1, after: datetime | None = None) -> list[datetime]:
    if not expr:
        return []
    check_time_zone(time_zone)
    return schedule.next_ticks(expr, time_zone, after or datetime.now(UTC), count)


def next_run(expr: str | None, time_zone: str, after: datetime | None = None) -> datetime | None:
    runs = next_runs(expr, time_zone, 1, after)
    return runs[0] if runs else None
