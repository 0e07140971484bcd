"""Schedule math with a fake clock: every `now` below is injected, nothing reads the real time."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from supertest.schedule import (
    Action,
    ConcurrencyPolicy,
    FinishedRun,
    InvalidSchedule,
    ScheduleSpec,
    ScheduleState,
    decide,
    next_ticks,
    run_name_for_tick,
    runs_beyond_history,
    validate,
)

NY = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "zone", "message"),
    [
        ("", "UTC", "empty"),
        ("* * * *", "UTC", "5 fields"),
        ("0 0 * * * *", "UTC", "5 fields"),
        ("61 * * * *", "UTC", "not a valid cron"),
        ("0 0 * * *", "Mars/Olympus", "unknown time zone"),
        ("@reboot", "UTC", "@reboot"),
    ],
)
def test_invalid_schedules_say_why(expression, zone, message):
    with pytest.raises(InvalidSchedule, match=message):
        validate(expression, zone)


def test_macros_and_five_fields_are_valid():
    validate("@daily", "Europe/Berlin")
    validate("*/5 9-17 * * 1-5", "UTC")


def test_time_zone_shifts_the_instant():
    after = utc(2026, 6, 1, 0, 0)
    assert next_ticks("0 9 * * *", "UTC", after, 1) == [utc(2026, 6, 1, 9, 0)]
    # 09:00 in Berlin summer time is 07:00 UTC.
    assert next_ticks("0 9 * * *", "Europe/Berlin", after, 1) == [utc(2026, 6, 1, 7, 0)]


def test_spring_forward_fires_at_the_first_valid_instant():
    # 2026-03-08 02:00 local does not exist in New York; 02:30 fires at 03:00 EDT (07:00 UTC).
    ticks = next_ticks("30 2 * * *", "America/New_York", datetime(2026, 3, 7, 12, 0, tzinfo=NY), 3)
    assert ticks[0] == utc(2026, 3, 8, 7, 0)
    assert ticks[1] == utc(2026, 3, 9, 6, 30)


def test_fall_back_fires_a_daily_job_once():
    ticks = next_ticks("30 1 * * *", "America/New_York", datetime(2026, 10, 31, 12, 0, tzinfo=NY), 2)
    assert ticks == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]


def test_fall_back_keeps_real_intervals_for_hour_wildcards():
    ticks = next_ticks("*/30 * * * *", "America/New_York", datetime(2026, 11, 1, 0, 50, tzinfo=NY), 4)
    assert [t - ticks[0] for t in ticks] == [timedelta(minutes=30 * i) for i in range(4)]


def test_run_names_are_deterministic_per_tick():
    tick = utc(2026, 1, 1, 0, 5)
    assert run_name_for_tick("nightly", tick) == run_name_for_tick("nightly", tick)
    assert run_name_for_tick("nightly", tick) != run_name_for_tick("nightly", tick + timedelta(minutes=1))
    assert run_name_for_tick("nightly", tick) == f"nightly-{int(tick.timestamp()) // 60}"


SPEC = ScheduleSpec(name="smoke", expression="*/5 * * * *")
CREATED = utc(2026, 1, 1, 0, 0)


def test_nothing_due_before_the_first_tick():
    decision = decide(SPEC, ScheduleState(created_at=CREATED), utc(2026, 1, 1, 0, 4, 59))
    assert decision.action is Action.NONE
    assert decision.next_tick == utc(2026, 1, 1, 0, 5)
    assert decision.seconds_until_next(utc(2026, 1, 1, 0, 4, 59)) == 1


def test_due_tick_starts_once_then_not_again():
    now = utc(2026, 1, 1, 0, 5, 2)
    first = decide(SPEC, ScheduleState(created_at=CREATED), now)
    assert first.action is Action.START and first.tick == utc(2026, 1, 1, 0, 5)
    again = decide(SPEC, ScheduleState(created_at=CREATED, last_schedule_time=first.tick), now)
    assert again.action is Action.NONE


def test_downtime_runs_only_the_most_recent_missed_tick():
    # Operator down from 00:03 to 00:21: ticks 00:05, 00:10, 00:15, 00:20 were missed.
    decision = decide(SPEC, ScheduleState(created_at=CREATED), utc(2026, 1, 1, 0, 21))
    assert decision.action is Action.START
    assert decision.tick == utc(2026, 1, 1, 0, 20)
    assert decision.missed == (utc(2026, 1, 1, 0, 5), utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 0, 15))


def test_starting_deadline_records_a_late_tick_instead_of_running_it():
    spec = ScheduleSpec(name="smoke", expression="0 * * * *", starting_deadline_seconds=120)
    late = decide(spec, ScheduleState(created_at=CREATED), utc(2026, 1, 1, 1, 5))
    assert late.action is Action.NONE
    assert late.missed == (utc(2026, 1, 1, 1, 0),)
    assert "startingDeadlineSeconds=120" in late.reason
    in_time = decide(spec, ScheduleState(created_at=CREATED), utc(2026, 1, 1, 1, 1, 30))
    assert in_time.action is Action.START and in_time.tick == utc(2026, 1, 1, 1, 0)


def test_too_many_missed_ticks_are_flagged():
    spec = ScheduleSpec(name="smoke", expression="* * * * *")
    decision = decide(spec, ScheduleState(created_at=CREATED), CREATED + timedelta(hours=3))
    assert decision.too_many_missed
    assert decision.action is Action.START and decision.tick == CREATED + timedelta(hours=3)


@pytest.mark.parametrize(
    ("policy", "action", "cancel"),
    [
        (ConcurrencyPolicy.ALLOW, Action.START, ()),
        (ConcurrencyPolicy.FORBID, Action.SKIP, ()),
        (ConcurrencyPolicy.REPLACE, Action.START, ("smoke-1",)),
    ],
)
def test_concurrency_policies(policy, action, cancel):
    spec = ScheduleSpec(name="smoke", expression="*/5 * * * *", concurrency_policy=policy)
    decision = decide(spec, ScheduleState(created_at=CREATED, active=["smoke-1"]), utc(2026, 1, 1, 0, 5, 1))
    assert decision.action is action
    assert decision.cancel == cancel


def test_forbid_starts_the_skipped_tick_once_the_active_run_ends_within_the_deadline():
    spec = ScheduleSpec(
        name="smoke",
        expression="*/5 * * * *",
        concurrency_policy=ConcurrencyPolicy.FORBID,
        starting_deadline_seconds=60,
    )
    busy = decide(spec, ScheduleState(created_at=CREATED, active=["smoke-x"]), utc(2026, 1, 1, 0, 5, 10))
    assert busy.action is Action.SKIP
    freed = decide(spec, ScheduleState(created_at=CREATED), utc(2026, 1, 1, 0, 5, 40))
    assert freed.action is Action.START and freed.tick == utc(2026, 1, 1, 0, 5)
    too_late = decide(spec, ScheduleState(created_at=CREATED), utc(2026, 1, 1, 0, 6, 30))
    assert too_late.action is Action.NONE and too_late.missed


def test_suspend_stops_new_runs():
    spec = ScheduleSpec(name="smoke", expression="*/5 * * * *", suspend=True)
    decision = decide(spec, ScheduleState(created_at=CREATED), utc(2026, 1, 1, 0, 30))
    assert decision.action is Action.NONE and decision.reason == "suspended"


def test_history_limits_keep_the_newest_of_each_outcome():
    runs = [FinishedRun(f"ok-{i}", True, CREATED + timedelta(minutes=i)) for i in range(5)]
    runs += [FinishedRun(f"bad-{i}", False, CREATED + timedelta(minutes=i)) for i in range(3)]
    doomed = runs_beyond_history(runs, successful_limit=2, failed_limit=1)
    assert sorted(doomed) == ["bad-0", "bad-1", "ok-0", "ok-1", "ok-2"]
    assert runs_beyond_history(runs, successful_limit=0, failed_limit=0).__len__() == 8
