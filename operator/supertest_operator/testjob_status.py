"""A TestJob's status as the scheduler decides it (pure: no cluster, no clock, no I/O; unit-tested alone).

`handlers/scheduler.py` reads the cluster, asks `supertest.schedule.decide`, then builds the new status with
these functions and writes the merge patch `status_patch` computes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from supertest import schedule
from supertest.kube.models import ActiveRun, TestJobCondition, TestJobSpec, TestJobStatus, format_time, parse_time
from supertest.phases import Phase
from supertest_operator.testjob import OwnedRun, TestJobView

MAX_ACTIVE_LISTED = 100


def schedule_spec(view: TestJobView, spec: TestJobSpec) -> schedule.ScheduleSpec:
    return schedule.ScheduleSpec(
        name=view.name,
        expression=spec.schedule,
        time_zone=spec.time_zone,
        concurrency_policy=schedule.ConcurrencyPolicy(spec.concurrency_policy),
        starting_deadline_seconds=spec.starting_deadline_seconds,
        suspend=spec.suspend,
    )


def schedule_state(
    view: TestJobView, runs: Sequence[OwnedRun], active: Sequence[OwnedRun], now: datetime
) -> schedule.ScheduleState:
    # The newest tick any of its runs was created for also counts: status may lag a crash behind the create.
    # A time in the future is nobody's tick (a hand-edited status or annotation): it would stop the schedule.
    found = (parse_time(view.status.last_schedule_time), *(r.scheduled_at for r in runs))
    ticks = [t for t in found if t is not None and t <= now]
    return schedule.ScheduleState(
        created_at=view.created,
        last_schedule_time=max(ticks) if ticks else None,
        active=[r.name for r in active],
    )


@dataclass(frozen=True, slots=True)
class Missed:
    """Ticks the decision passed over, in words for the MissedSchedule condition and the Warning Event."""

    reason: str
    message: str
    newest: datetime | None


def missed_ticks(spec: TestJobSpec, decision: schedule.Decision, now: datetime) -> Missed | None:
    if not decision.missed and not decision.too_many_missed:
        return None
    newest = max(decision.missed) if decision.missed else None
    deadline = spec.starting_deadline_seconds
    if decision.too_many_missed:
        reason = "TooManyMissedTicks"
    elif deadline is not None and newest is not None and newest < now - timedelta(seconds=deadline):
        reason = "StartingDeadlineExceeded"
    else:
        reason = "SupersededTicks"  # older unmet ticks: CronJob runs only the most recent one
    when = format_time(newest) if newest else "unknown"
    message = f"{len(decision.missed)} tick(s) not run, the newest at {when}"
    if deadline is not None:
        message += f" (startingDeadlineSeconds={deadline})"
    return Missed(reason, message, newest)


def fill_status(
    view: TestJobView,
    spec: TestJobSpec,
    new: TestJobStatus,
    runs: Sequence[OwnedRun],
    started: str | None,
    decision: schedule.Decision,
    now: datetime,
) -> None:
    live = sorted((r for r in runs if r.active), key=lambda r: r.name)
    new.active = [ActiveRun(name=r.name, uid=r.uid or None) for r in live]
    if started and started not in {r.name for r in live}:
        new.active.append(ActiveRun(name=started))
    new.active = new.active[:MAX_ACTIVE_LISTED]  # the CRD's maxItems; an Allow backlog can be longer
    passed = [r.completed_at for r in runs if r.phase is Phase.PASSED and r.completed_at]
    known = parse_time(view.status.last_successful_time)
    newest = max([*passed, *([known] if known else [])], default=None)
    new.last_successful_time = format_time(newest) if newest else None
    if spec.suspend:
        new.next_schedule_time = None
        set_condition(new, "Scheduled", "False", "Suspended", "spec.suspend is true: no new scheduled runs", now)
        new.message = "suspended"
    else:
        new.next_schedule_time = format_time(decision.next_tick) if decision.next_tick else None
        set_condition(new, "Scheduled", "True", "Scheduled", f"schedule {spec.schedule!r} in {spec.time_zone}", now)
        new.message = f"next run at {new.next_schedule_time}" if new.next_schedule_time else ""
    new.observed_generation = view.generation


def invalid_status(view: TestJobView, new: TestJobStatus, reason: str, now: datetime) -> None:
    """A spec the scheduler cannot run: Scheduled=False/InvalidSchedule, and no next time."""
    set_condition(new, "Scheduled", "False", "InvalidSchedule", reason, now)
    new.next_schedule_time = None
    new.message = reason[:4096]
    new.observed_generation = view.generation


def first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"spec.{where}: {first.get('msg')}" if where else str(first.get("msg"))
    return str(exc)


def set_condition(status: TestJobStatus, kind: Any, state: Any, reason: str, message: str, now: datetime) -> None:
    """Replace the condition of this type; its lastTransitionTime moves only when its status changes."""
    old = next((c for c in status.conditions if c.type == kind), None)
    since = old.last_transition_time if old is not None and old.status == state else format_time(now)
    fresh = TestJobCondition.model_validate(
        {"type": kind, "status": state, "reason": reason, "message": message[:32768], "lastTransitionTime": since}
    )
    status.conditions = sorted([c for c in status.conditions if c.type != kind] + [fresh], key=lambda c: c.type)


def status_patch(before: Mapping[str, Any], after: TestJobStatus) -> dict[str, Any]:
    """A merge patch from the stored status to `after`; keys that vanished become null (merge-patch removal)."""
    target = after.to_patch()
    patch: dict[str, Any] = {k: v for k, v in target.items() if before.get(k) != v and (v != [] or k in before)}
    for key in before:
        if key not in target:
            patch[key] = None
    return patch
