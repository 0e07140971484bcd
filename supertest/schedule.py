"""Cron schedule math with CronJob semantics, as pure functions of an injected clock.

Used by the operator's TestJob scheduler and by local mode's scheduler, so both fire the same ticks.

Time zones and DST: ticks are wall-clock times in the job's zone. A time skipped by a spring-forward
change fires at the first valid instant after it (02:30 on a 02:00→03:00 night fires at 03:00). A time
repeated by a fall-back change fires once, at its first occurrence, unless the schedule's hour field is
`*` (then both instants are genuine intervals, as with `*/30 * * * *`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

# As CronJob does: past this many unmet ticks the controller reports instead of trying them all.
MAX_MISSED_TICKS = 100


class InvalidSchedule(ValueError):
    pass


class ConcurrencyPolicy(StrEnum):
    ALLOW = "Allow"
    FORBID = "Forbid"
    REPLACE = "Replace"


def parse_zone(time_zone: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSchedule(f"unknown time zone {time_zone!r}: use an IANA name such as Europe/Berlin") from exc


def validate(expression: str, time_zone: str | None = "UTC") -> None:
    """Five fields or a macro (@hourly, @daily, ...), as Kubernetes CronJob accepts."""
    parse_zone(time_zone)
    text = expression.strip()
    if not text:
        raise InvalidSchedule("schedule is empty")
    if not text.startswith("@") and len(text.split()) != 5:
        raise InvalidSchedule(f"schedule {expression!r} must have 5 fields (minute hour day month weekday)")
    if text == "@reboot":
        raise InvalidSchedule("@reboot has no meaning for a cluster scheduler")
    try:
        it = croniter(text, datetime(2000, 1, 1, tzinfo=UTC))
    except (CroniterBadCronError, CroniterBadDateError, ValueError, KeyError) as exc:
        raise InvalidSchedule(f"schedule {expression!r} is not a valid cron expression: {exc}") from exc
    try:
        it.get_next(datetime)  # "0 0 30 2 *" parses, but never fires
    except (CroniterBadDateError, ValueError) as exc:
        raise InvalidSchedule(f"schedule {expression!r} never fires (no such date)") from exc


def _hour_is_wildcard(expression: str) -> bool:
    fields = expression.split()
    return len(fields) == 5 and fields[1] == "*"


def iter_ticks(expression: str, time_zone: str | None, after: datetime) -> Iterator[datetime]:
    """Ticks strictly after `after`, as aware UTC datetimes, in order."""
    validate(expression, time_zone)
    zone = parse_zone(time_zone)
    dedupe = not _hour_is_wildcard(expression.strip())
    it = croniter(expression.strip(), after.astimezone(zone))
    seen_wall: datetime | None = None
    while True:
        tick: datetime = it.get_next(datetime)
        wall = tick.replace(tzinfo=None)
        if dedupe and seen_wall is not None and wall == seen_wall:
            continue  # the repeated hour of a fall-back night
        seen_wall = wall
        yield tick.astimezone(UTC)


def next_ticks(expression: str, time_zone: str | None, after: datetime, count: int = 5) -> list[datetime]:
    ticks = iter_ticks(expression, time_zone, after)
    return [next(ticks) for _ in range(count)]


def ticks_between(
    expression: str, time_zone: str | None, start: datetime, end: datetime, limit: int = MAX_MISSED_TICKS + 1
) -> list[datetime]:
    """Ticks in (start, end], at most `limit` of them (the newest are what matter, see `decide`)."""
    found: list[datetime] = []
    for tick in iter_ticks(expression, time_zone, start):
        if tick > end:
            break
        found.append(tick)
        if len(found) > limit:
            found.pop(0)
    return found


def run_name_for_tick(job_name: str, tick: datetime) -> str:
    """Deterministic per tick, as CronJob's `<name>-<minutes since epoch>`: a restart cannot double-fire."""
    return f"{job_name}-{int(tick.timestamp()) // 60}"


class Action(StrEnum):
    NONE = "none"  # nothing due
    START = "start"  # create the run for `tick` (cancelling `cancel` first)
    SKIP = "skip"  # due, but the concurrency policy forbids it now


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    name: str
    expression: str
    time_zone: str = "UTC"
    concurrency_policy: ConcurrencyPolicy = ConcurrencyPolicy.ALLOW
    starting_deadline_seconds: int | None = None
    suspend: bool = False


@dataclass(frozen=True, slots=True)
class ScheduleState:
    created_at: datetime
    last_schedule_time: datetime | None = None
    active: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    next_tick: datetime | None
    tick: datetime | None = None
    run_name: str | None = None
    cancel: tuple[str, ...] = ()
    missed: tuple[datetime, ...] = field(default_factory=tuple)
    too_many_missed: bool = False
    reason: str = ""

    def seconds_until_next(self, now: datetime) -> float:
        if self.next_tick is None:
            return 60.0
        return max(0.0, (self.next_tick - now).total_seconds())


def decide(spec: ScheduleSpec, state: ScheduleState, now: datetime) -> Decision:
    """What a CronJob-like controller does at `now`; deterministic and side-effect free."""
    following = next(iter_ticks(spec.expression, spec.time_zone, now))
    if spec.suspend:
        return Decision(Action.NONE, following, reason="suspended")
    earliest = state.last_schedule_time or state.created_at
    unmet = ticks_between(spec.expression, spec.time_zone, earliest, now)
    if not unmet:
        return Decision(Action.NONE, following, reason="no tick due")
    too_many = len(unmet) > MAX_MISSED_TICKS
    missed: tuple[datetime, ...] = ()
    if spec.starting_deadline_seconds is not None:
        window_start = now - timedelta(seconds=spec.starting_deadline_seconds)
        missed = tuple(t for t in unmet if t < window_start)
        unmet = [t for t in unmet if t >= window_start]
        if not unmet:
            return Decision(
                Action.NONE,
                following,
                missed=missed,
                too_many_missed=too_many,
                reason=f"missed {len(missed)} tick(s) past startingDeadlineSeconds={spec.starting_deadline_seconds}",
            )
    tick = unmet[-1]  # only the most recent unmet tick runs; older ones count as missed
    missed = missed + tuple(unmet[:-1])
    name = run_name_for_tick(spec.name, tick)
    if state.active and spec.concurrency_policy is ConcurrencyPolicy.FORBID:
        return Decision(
            Action.SKIP,
            following,
            tick=tick,
            run_name=name,
            missed=missed,
            too_many_missed=too_many,
            reason=f"concurrencyPolicy Forbid: {len(state.active)} run(s) still active",
        )
    cancel = tuple(state.active) if spec.concurrency_policy is ConcurrencyPolicy.REPLACE else ()
    return Decision(
        Action.START,
        following,
        tick=tick,
        run_name=name,
        cancel=cancel,
        missed=missed,
        too_many_missed=too_many,
        reason="replacing the active run(s)" if cancel else "tick due",
    )


@dataclass(frozen=True, slots=True)
class FinishedRun:
    name: str
    succeeded: bool
    completed_at: datetime


def runs_beyond_history(runs: Sequence[FinishedRun], successful_limit: int, failed_limit: int) -> list[str]:
    """Names of finished runs to delete: keep the newest N successful and the newest M failed."""
    doomed: list[str] = []
    for succeeded, limit in ((True, successful_limit), (False, failed_limit)):
        group = sorted((r for r in runs if r.succeeded is succeeded), key=lambda r: r.completed_at, reverse=True)
        doomed.extend(r.name for r in group[max(0, limit) :])
    return doomed
