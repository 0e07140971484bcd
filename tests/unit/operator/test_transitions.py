from __future__ import annotations

from datetime import UTC, datetime, timedelta

from supertest_operator.run import RunView
from supertest_operator.transitions import Update, allowed, status_patch

from supertest.phases import Phase
from tests.unit.operator.conftest import run_body

NOW = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)


def _conds(patch: dict) -> dict:  # type: ignore[type-arg]
    return {c["type"]: (c["status"], c["reason"]) for c in patch["conditions"]}


def test_new_run_may_only_queue_start_error_or_cancel() -> None:
    assert allowed(None, Phase.QUEUED)
    assert allowed(None, Phase.ERROR)
    assert allowed(None, Phase.STARTING)  # admitted before it was ever marked Queued
    assert not allowed(None, Phase.RUNNING)
    assert not allowed(None, Phase.PASSED)
    assert not allowed(Phase.PASSED, Phase.RUNNING)
    assert allowed(Phase.ERROR, Phase.QUEUED)  # retry


def test_queued_sets_queued_at_and_conditions() -> None:
    patch = status_patch(RunView.from_body(run_body()), Update(Phase.QUEUED, "Queued", "waiting"), NOW)
    assert patch["phase"] == "Queued"
    assert patch["queuedAt"] == "2026-01-01T00:01:00.000000Z"
    assert _conds(patch) == {
        "Admitted": ("False", "Queued"),
        "Running": ("False", "Queued"),
        "Complete": ("False", "Queued"),
        "Failed": ("False", "Queued"),
    }
    assert patch["observedGeneration"] == 1


def test_starting_then_passed_fills_times_duration_and_complete() -> None:
    queued = RunView.from_body(run_body(status={"phase": "Queued", "queuedAt": "2026-01-01T00:00:00.5Z"}))
    starting = status_patch(queued, Update(Phase.STARTING, "Admitted", "go", {"attempts": 1, "podName": "p"}), NOW)
    assert starting["startTime"] == "2026-01-01T00:01:00.000000Z"
    assert _conds(starting)["Admitted"] == ("True", "Admitted")
    running = RunView.from_body(run_body(status={**starting, "phase": "Running"}))
    later = NOW + timedelta(seconds=65)
    passed = status_patch(running, Update(Phase.PASSED, "Passed", "1 passed"), later)
    assert passed["completionTime"] == "2026-01-01T00:02:05.000000Z"
    assert passed["duration"] == "1m5s"
    assert _conds(passed)["Complete"] == ("True", "Passed")
    assert _conds(passed)["Failed"][0] == "False"
    # Admitted did not change status: its transition time is kept.
    admitted = next(c for c in passed["conditions"] if c["type"] == "Admitted")
    assert admitted["lastTransitionTime"] == "2026-01-01T00:01:00.000000Z"


def test_error_with_retry_is_not_failed_yet() -> None:
    view = RunView.from_body(run_body(status={"phase": "Running", "attempts": 1, "startTime": "2026-01-01T00:00:00Z"}))
    patch = status_patch(view, Update(Phase.ERROR, "PodDeleted", "gone", retry_at=NOW), NOW)
    assert patch["retryAt"] == "2026-01-01T00:01:00.000000Z"
    assert _conds(patch)["Failed"] == ("Unknown", "RetryScheduled")
    final = status_patch(view, Update(Phase.ERROR, "PodDeleted", "gone"), NOW)
    assert _conds(final)["Failed"] == ("True", "Error")
    requeued = RunView.from_body(run_body(status={**patch, "phase": "Error"}))
    back = status_patch(requeued, Update(Phase.QUEUED, "Retrying", "again"), NOW)
    assert back["retryAt"] is None  # merge patch: delete the field


def test_a_phase_less_run_admitted_at_once_is_admitted_with_its_queue_time() -> None:
    fields = {"podName": "demo-a1", "attempts": 1, "queuedAt": "2026-01-01T00:00:59.000000Z"}
    patch = status_patch(RunView.from_body(run_body()), Update(Phase.STARTING, "Admitted", "admitted", fields), NOW)
    assert patch["phase"] == "Starting"
    assert patch["queuedAt"] == "2026-01-01T00:00:59.000000Z"
    assert patch["startTime"] == "2026-01-01T00:01:00.000000Z"
    assert _conds(patch)["Admitted"] == ("True", "Admitted")
