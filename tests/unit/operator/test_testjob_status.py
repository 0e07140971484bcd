"""A TestJob's status as the scheduler builds it: pure functions, no cluster and no fake apiserver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from supertest_operator.testjob import OwnedRun, TestJobView
from supertest_operator.testjob_status import (
    fill_status,
    invalid_status,
    missed_ticks,
    schedule_state,
    set_condition,
    status_patch,
)

from supertest import schedule
from supertest.kube.models import TestJobSpec, TestJobStatus, format_time

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _view(status: dict[str, Any] | None = None, **spec: Any) -> TestJobView:
    return TestJobView.from_body(
        {
            "metadata": {"name": "nightly", "namespace": "ns", "uid": "u", "creationTimestamp": format_time(T0)},
            "spec": {"schedule": "*/5 * * * *", "tests": [{"name": "a", "script": "x"}], **spec},
            "status": status or {},
        }
    )


def _run(name: str, phase: str | None = None, completed: datetime | None = None, **extra: Any) -> OwnedRun:
    status: dict[str, Any] = {"phase": phase} if phase else {}
    if completed is not None:
        status["completionTime"] = format_time(completed)
    meta = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "creationTimestamp": format_time(T0), **extra}
    return OwnedRun.from_body({"metadata": meta, "status": status})


def test_schedule_state_takes_the_newest_past_tick_from_status_and_run_annotations() -> None:
    tick = T0 + timedelta(minutes=5)
    future = T0 + timedelta(hours=1)
    view = _view({"lastScheduleTime": format_time(T0)})
    runs = [
        _run("a", annotations={"supertest.dev/scheduled-at": format_time(tick)}),
        _run("b", annotations={"supertest.dev/scheduled-at": format_time(future)}),  # nobody's tick yet
    ]
    state = schedule_state(view, runs, runs[:1], T0 + timedelta(minutes=6))
    assert state.last_schedule_time == tick and state.active == ["a"] and state.created_at == T0


def test_fill_status_lists_active_runs_the_started_one_and_the_last_success() -> None:
    view = _view()
    spec = TestJobSpec.model_validate(dict(view.spec))
    done = T0 + timedelta(minutes=3)
    runs = [_run("old", "Passed", done), _run("live", "Running")]
    decision = schedule.Decision(schedule.Action.START, T0 + timedelta(minutes=10), tick=T0 + timedelta(minutes=5))
    new = TestJobStatus()
    fill_status(view, spec, new, runs, "fresh", decision, T0 + timedelta(minutes=5))
    assert [a.name for a in new.active] == ["live", "fresh"]
    assert new.last_successful_time == format_time(done)
    assert new.next_schedule_time == format_time(T0 + timedelta(minutes=10))
    scheduled = next(c for c in new.conditions if c.type == "Scheduled")
    assert (scheduled.status, scheduled.reason) == ("True", "Scheduled")


def test_a_suspended_testjob_has_no_next_time() -> None:
    view = _view(suspend=True)
    spec = TestJobSpec.model_validate(dict(view.spec))
    new = TestJobStatus()
    fill_status(view, spec, new, [], None, schedule.Decision(schedule.Action.NONE, T0), T0)
    assert new.next_schedule_time is None and new.message == "suspended"
    assert next(c for c in new.conditions if c.type == "Scheduled").reason == "Suspended"


def test_missed_ticks_name_their_reason() -> None:
    spec = TestJobSpec.model_validate(
        {"schedule": "* * * * *", "startingDeadlineSeconds": 30, "tests": [{"name": "a", "script": "x"}]}
    )
    now = T0 + timedelta(minutes=10)
    old = schedule.Decision(schedule.Action.NONE, now, missed=(T0 + timedelta(minutes=2),))
    assert missed_ticks(spec, schedule.Decision(schedule.Action.NONE, now), now) is None
    late = missed_ticks(spec, old, now)
    assert (
        late is not None and late.reason == "StartingDeadlineExceeded" and "startingDeadlineSeconds=30" in late.message
    )
    many = missed_ticks(spec, schedule.Decision(schedule.Action.NONE, now, too_many_missed=True), now)
    assert many is not None and many.reason == "TooManyMissedTicks"


def test_conditions_move_their_transition_time_only_when_the_status_changes() -> None:
    status = TestJobStatus()
    set_condition(status, "Scheduled", "True", "Scheduled", "a", T0)
    set_condition(status, "Scheduled", "True", "Scheduled", "b", T0 + timedelta(minutes=1))
    assert status.conditions[0].last_transition_time == format_time(T0) and status.conditions[0].message == "b"
    invalid_status(_view(), status, "spec.schedule: bad", T0 + timedelta(minutes=2))
    assert status.conditions[0].last_transition_time == format_time(T0 + timedelta(minutes=2))
    assert status.next_schedule_time is None and status.message == "spec.schedule: bad"


def test_status_patch_removes_what_vanished_and_skips_what_is_unchanged() -> None:
    after = TestJobStatus(message="m")
    assert status_patch({"message": "m", "nextScheduleTime": "x"}, after) == {"nextScheduleTime": None}
