"""Cron schedules: validated with croniter, read in the job's IANA time zone, like a CronJob's."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from supertest_api.errors import ValidationFailed


def check_time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(
            f"timeZone {name!r} is not a known IANA time zone (e.g. UTC, Europe/Berlin)",
            details=[{"loc": ["body", "timeZone"], "msg": "unknown time zone"}],
        ) from exc


def check_schedule(expr: str) -> str:
    fields = expr.split()
    # Kubernetes CronJob syntax: five fields or a macro; croniter alone would also take seconds.
    if not (expr.startswith("@") or len(fields) == 5) or not croniter.is_valid(expr):
        raise ValidationFailed(
            f"schedule {expr!r} is not a valid cron expression: expected 5 fields "
            "'minute hour day-of-month month day-of-week' (e.g. '*/15 * * * *') or @hourly/@daily/@weekly",
            details=[{"loc": ["body", "schedule"], "msg": "invalid cron expression"}],
        )
    return " ".join(fields)


def next_run(expr: str | None, time_zone: str, after: datetime | None = None) -> datetime | None:
    if not expr:
        return None
    zone = check_time_zone(time_zone)
    start = (after or datetime.now(UTC)).astimezone(zone)
    nxt: datetime = croniter(expr, start).get_next(datetime)
    return nxt.astimezone(UTC)
