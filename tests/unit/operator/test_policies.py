"""Retries, TTL, admission order and spec checks: the pure policy parts of the handlers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from supertest_operator.handlers.admission import spec_problem
from supertest_operator.handlers.cleanup import expires_at, ttl_seconds
from supertest_operator.handlers.retries import backoff_seconds, error_update, retry_due
from supertest_operator.run import RunView
from supertest_operator.settings import OperatorSettings

from supertest.admission import admission_order
from supertest.phases import Phase
from tests.unit.operator.conftest import run_body


def test_backoff_doubles_and_caps(settings: OperatorSettings) -> None:
    s = settings.model_copy(update={"retry_backoff_seconds": 5.0, "retry_backoff_max_seconds": 30.0})
    assert [backoff_seconds(n, s) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 30, 30]


def test_error_update_retries_only_within_spec_retries(settings: OperatorSettings) -> None:
    first = RunView.from_body(run_body(spec={"script": "s", "retries": 1}, status={"phase": "Running", "attempts": 1}))
    update = error_update(first, "PodDeleted", "gone", True, settings)
    assert update.phase is Phase.ERROR and update.retry_at is not None and "1 retry left" in (update.message or "")
    second = RunView.from_body(run_body(spec={"script": "s", "retries": 1}, status={"phase": "Running", "attempts": 2}))
    assert error_update(second, "PodDeleted", "gone", True, settings).retry_at is None
    assert error_update(first, "RunnerError", "bad script", False, settings).retry_at is None


def test_a_sharded_run_is_never_retried_as_a_whole(settings: OperatorSettings) -> None:
    """Its shards retry alone; requeued whole it would sit Queued with its old shard lines for ever."""
    lines = [{"index": 0, "phase": "Passed", "attempts": 1}, {"index": 1, "phase": "Passed", "attempts": 1}]
    status = {"phase": "Running", "attempts": 1, "shards": lines}
    view = RunView.from_body(run_body(spec={"script": "s", "retries": 3, "shards": 2}, status=status))
    update = error_update(view, "PodVanished", "pod r-merge-a1 disappeared", True, settings)
    assert update.phase is Phase.ERROR and update.retry_at is None


def test_retry_due() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    view = RunView.from_body(run_body(status={"phase": "Error", "retryAt": "2026-01-01T00:00:00Z"}))
    assert retry_due(view, now)
    assert not retry_due(view, now - timedelta(seconds=1))
    cancelled = RunView.from_body(run_body(spec={"script": "s", "cancel": True}, status=view.status.to_patch()))
    assert not retry_due(cancelled, now)


def test_ttl_defaults_per_outcome_and_spec_override(settings: OperatorSettings) -> None:
    s = settings.model_copy(update={"ttl_passed_seconds": 60, "ttl_failed_seconds": 600})
    done = {"completionTime": "2026-01-01T00:00:00Z"}
    passed = RunView.from_body(run_body(status={"phase": "Passed", **done}))
    failed = RunView.from_body(run_body(status={"phase": "Failed", **done}))
    own_spec = {"script": "s", "ttlSecondsAfterFinished": 5}
    own = RunView.from_body(run_body(spec=own_spec, status={"phase": "Error", **done}))
    pending = RunView.from_body(run_body(status={"phase": "Error", "retryAt": "2026-01-01T00:00:10Z", **done}))
    running = RunView.from_body(run_body(status={"phase": "Running"}))
    assert ttl_seconds(passed, s) == 60
    assert ttl_seconds(failed, s) == 600
    assert expires_at(own, s) == datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert ttl_seconds(pending, s) is None
    assert ttl_seconds(running, s) is None


def test_queue_key_orders_priority_then_creation_then_queued_at() -> None:
    def view(name: str, created: str, queued: str, priority: int = 0) -> RunView:
        status = {"phase": "Queued", "queuedAt": queued}
        body = run_body(name, spec={"script": "s", "priority": priority}, status=status)
        body["metadata"]["creationTimestamp"] = created
        return RunView.from_body(body)

    a = view("zzz", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.100000Z")
    b = view("aaa", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.200000Z")  # same second, queued later
    c = view("ccc", "2026-01-01T00:00:01Z", "2026-01-01T00:00:01.000000Z")
    d = view("ddd", "2026-01-01T00:00:05Z", "2026-01-01T00:00:05.000000Z", priority=5)
    keys = {v.queue_key().run_id: v.name for v in (a, b, c, d)}
    order = admission_order([v.queue_key() for v in (c, b, d, a)])
    assert [keys[q.run_id] for q in order] == ["ddd", "zzz", "aaa", "ccc"]


def test_spec_problems_are_readable() -> None:
    assert spec_problem(RunView.from_body(run_body())) is None
    both = run_body(spec={"script": "s", "scriptFrom": {"configMapKeyRef": {"name": "a", "key": "b"}}})
    assert "exactly one of script or scriptFrom" in (spec_problem(RunView.from_body(both)) or "")
    env = run_body(spec={"script": "s", "env": [{"name": "AWS_SECRET_ACCESS_KEY", "value": "x"}]})
    assert "operator-owned" in (spec_problem(RunView.from_body(env)) or "")
    job = run_body(kind="JobRun", spec={"tests": []})
    assert "tests" in (spec_problem(RunView.from_body(job)) or "")


def test_deadline_counts_from_this_attempts_start(settings: OperatorSettings) -> None:
    from supertest_operator.handlers.timeout import deadline
    from supertest_operator.transitions import Update, status_patch

    s = settings.model_copy(update={"timeout_grace_seconds": 5})
    spec = {"script": "s", "timeoutSeconds": 60, "retries": 1}
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    first = status_patch(
        RunView.from_body(run_body(spec=spec, status={"phase": "Queued"})),
        Update(Phase.STARTING, "Admitted", "", {"attempts": 1}),
        t0,
    )
    view = RunView.from_body(run_body(spec=spec, status={**first, "phase": "Starting"}))
    assert deadline(view, s) == t0 + timedelta(seconds=70)
    pod = {"status": {"startTime": "2026-01-01T00:00:03Z"}}
    assert deadline(view, s, pod) == t0 + timedelta(seconds=73)
    # Error, requeued 50 s later, admitted again: the second attempt gets its full timeout.
    errored = status_patch(view, Update(Phase.ERROR, "PodDeleted", "", retry_at=t0), t0 + timedelta(seconds=40))
    queued_view = RunView.from_body(run_body(spec=spec, status={**first, **errored, "phase": "Error"}))
    requeued = status_patch(queued_view, Update(Phase.QUEUED, "Retrying", ""), t0 + timedelta(seconds=50))
    queued = RunView.from_body(run_body(spec=spec, status={**first, **errored, **requeued}))
    again = status_patch(queued, Update(Phase.STARTING, "Admitted", "", {"attempts": 2}), t0 + timedelta(seconds=55))
    second = RunView.from_body(run_body(spec=spec, status={**first, **errored, **requeued, **again}))
    assert deadline(second, s) == t0 + timedelta(seconds=55 + 70)


def test_finished_runs_whose_row_is_missing_or_behind_are_mirrored_again() -> None:
    from supertest_operator.handlers.orphans import rows_behind

    finished = {"a": "Passed", "b": "Failed", "c": "Passed", "d": "Cancelled"}
    rows = {"a": "Passed", "b": "Running", "d": "Starting", "z": "Running"}
    assert rows_behind(finished, rows) == ["b", "c", "d"]  # c has no row at all; z is not finished in the cluster


def test_queue_key_puts_a_run_not_yet_marked_after_the_marked_runs_of_its_creation_second() -> None:
    # It is stamped queuedAt when admitted: ordering it first would start it before runs whose queuedAt is earlier.
    marked = run_body("zzz", spec={"script": "s"}, status={"phase": "Queued", "queuedAt": "2026-01-01T00:00:00.9Z"})
    new = run_body("aaa", spec={"script": "s"})
    later = run_body("bbb", spec={"script": "s"})
    marked["metadata"]["creationTimestamp"] = new["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    later["metadata"]["creationTimestamp"] = "2026-01-01T00:00:01Z"
    keys = {RunView.from_body(b).queue_key(): b["metadata"]["name"] for b in (later, new, marked)}
    assert [keys[q] for q in admission_order(keys)] == ["zzz", "aaa", "bbb"]
