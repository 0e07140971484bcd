"""Which new runs admission marks Queued in the background, and how many slots a phase-less run asks for."""

from __future__ import annotations

from supertest_operator.handlers.admission import executions_wanted, unmarked, vanished
from supertest_operator.run import RunView
from supertest_operator.settings import OperatorSettings

from supertest.phases import Phase
from tests.unit.operator.conftest import run_body


def view(name: str, created: str = "2026-01-01T00:00:00Z", **kwargs: object) -> RunView:
    body = run_body(name, **kwargs)  # type: ignore[arg-type]
    body["metadata"]["creationTimestamp"] = created
    return RunView.from_body(body)


def test_unmarked_is_the_oldest_phase_less_runs_but_the_admitted_and_deleting() -> None:
    runs = [
        view("c", "2026-01-01T00:00:03Z"),
        view("a", "2026-01-01T00:00:01Z"),
        view("b2", "2026-01-01T00:00:02Z"),
        view("b1", "2026-01-01T00:00:02Z"),
        view("queued", "2026-01-01T00:00:00Z", status={"phase": "Queued"}),
        view("admitted", "2026-01-01T00:00:00Z"),
        view("deleting", "2026-01-01T00:00:00Z", deletionTimestamp="2026-01-01T00:00:04Z"),
    ]
    taken = {("testruns", "ns", "admitted")}
    assert [v.name for v in unmarked(runs, taken, 3)] == ["a", "b1", "b2"]
    assert [v.name for v in unmarked(runs, taken, 10)] == ["a", "b1", "b2", "c"]
    assert unmarked([view("q", status={"phase": "Queued"})], set(), 10) == []


def test_a_phase_less_run_asks_for_what_a_queued_one_would() -> None:
    tests = [{"name": f"t{i}.spec.js", "script": "s"} for i in range(4)]
    sharded = {"tests": tests, "shards": 3}
    assert executions_wanted(view("new", kind="JobRun", spec=sharded)) == 3
    assert executions_wanted(view("queued", kind="JobRun", spec=sharded, status={"phase": "Queued"})) == 3
    assert executions_wanted(view("plain")) == 1
    assert executions_wanted(view("plain-queued", status={"phase": "Queued"})) == 1


def test_a_starting_runs_vanished_pod_ends_it_in_error_once(settings: OperatorSettings) -> None:
    decide = vanished(settings, "demo-a1")
    update = decide(view("demo", status={"phase": "Starting", "podName": "demo-a1", "attempts": 1}))
    assert update is not None and update.phase is Phase.ERROR and update.reason == "PodVanished"
    # Its DELETED event got there first, or a later attempt has its own pod: nothing to do.
    assert decide(view("demo", status={"phase": "Error", "podName": "demo-a1", "attempts": 1})) is None
    assert decide(view("demo", status={"phase": "Starting", "podName": "demo-a2", "attempts": 2})) is None
    assert decide(view("demo", status={"phase": "Running", "podName": "demo-a1", "attempts": 1})) is None
