"""Which new runs admission marks Queued in the background, and how many slots a phase-less run asks for."""

from __future__ import annotations

import asyncio

from supertest_operator.handlers.admission import _mark_new, executions_wanted, spec_problem, vanished
from supertest_operator.run import RunView
from supertest_operator.run_cache import RunCache
from supertest_operator.settings import OperatorSettings
from supertest_operator.status_writer import _after
from supertest_operator.transitions import Update

from supertest.phases import Phase
from tests.unit.operator.conftest import run_body


def view(name: str, created: str = "2026-01-01T00:00:00Z", **kwargs: object) -> RunView:
    body = run_body(name, **kwargs)  # type: ignore[arg-type]
    body["metadata"]["creationTimestamp"] = created
    return RunView.from_body(body)


def cache_of(*bodies: dict[str, object]) -> RunCache:
    cache = RunCache(spec_problem)
    for body in bodies:
        cache.observe(body)
    return cache


def body(name: str, created: str, **kwargs: object) -> dict[str, object]:
    raw = run_body(name, **kwargs)  # type: ignore[arg-type]
    raw["metadata"]["creationTimestamp"] = created
    return raw


def test_unmarked_is_the_first_phase_less_runs_in_admission_order_but_the_admitted_and_deleting() -> None:
    cache = cache_of(
        body("c", "2026-01-01T00:00:03Z"),
        body("a", "2026-01-01T00:00:01Z"),
        body("b2", "2026-01-01T00:00:02Z"),
        body("b1", "2026-01-01T00:00:02Z"),
        body("queued", "2026-01-01T00:00:00Z", status={"phase": "Queued", "queuedAt": "2026-01-01T00:00:00.5Z"}),
        body("admitted", "2026-01-01T00:00:00Z"),
        body("deleting", "2026-01-01T00:00:00Z", deletionTimestamp="2026-01-01T00:00:04Z"),
        body("urgent", "2026-01-01T00:00:09Z", spec={"script": "s", "priority": 5}),
    )
    taken = {("testruns", "ns", "admitted")}
    assert [v.name for v in cache.unmarked(3, taken)] == ["urgent", "a", "b1"]
    assert [v.name for v in cache.unmarked(10, taken)] == ["urgent", "a", "b1", "b2", "c"]
    assert cache_of(body("q", "2026-01-01T00:00:00Z", status={"phase": "Queued"})).unmarked(10) == []


def test_the_queue_head_is_admission_order_and_follows_every_change() -> None:
    cache = cache_of(*(body(f"r{i}", f"2026-01-01T00:00:0{i}Z") for i in range(5)))
    assert [v.name for v in cache.queue_head(3)] == ["r0", "r1", "r2"]
    assert [v.name for v in cache.queue_head(2, skip={("testruns", "ns", "r0")})] == ["r1", "r2"]
    # A run admitted leaves the queue; a later one raised in priority moves to its head; a deleted one is gone.
    cache.observe(body("r1", "2026-01-01T00:00:01Z", status={"phase": "Starting"}, resourceVersion="9"))
    cache.observe(body("r4", "2026-01-01T00:00:04Z", spec={"script": "s", "priority": 1}, resourceVersion="9"))
    cache.forget(body("r2", "2026-01-01T00:00:02Z"))
    assert [v.name for v in cache.queue_head(10)] == ["r4", "r0", "r3"]
    assert cache.waiting_count() == 3 and cache.is_waiting(("testruns", "ns", "r3"))
    assert not cache.is_waiting(("testruns", "ns", "r1"))


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


class _Recorder:
    """What status_writer._after needs of the context, recording the Events it posts."""

    def __init__(self) -> None:
        self.db = None
        self.bus = None
        self.events: list[str] = []
        self.wake = asyncio.Event()

    def post_event(self, ref: object, reason: str, message: str, warning: bool = False) -> None:
        self.events.append(reason)


def test_the_first_queued_mark_posts_no_event_but_every_later_transition_does() -> None:
    # A burst of thousands of runs would post as many Queued Events (apiserver writes while it admits); the
    # condition says the same. Admission, retries and endings keep theirs.
    new = view("new")
    mark = _mark_new(None)(new)
    assert mark is not None and mark.phase is Phase.QUEUED and mark.event is False
    recorder = _Recorder()
    queued = view("new", status={"phase": "Queued"})
    _after(recorder, new, queued, mark)  # type: ignore[arg-type]
    assert recorder.events == [] and recorder.wake.is_set()
    starting = view("new", status={"phase": "Starting"})
    _after(recorder, queued, starting, Update(Phase.STARTING, "Admitted", "admitted"))  # type: ignore[arg-type]
    retrying = view("new", status={"phase": "Queued", "attempts": 1})
    _after(recorder, starting, retrying, Update(Phase.QUEUED, "Retrying", "requeued"))  # type: ignore[arg-type]
    assert recorder.events == ["Admitted", "Retrying"]
    invalid = _mark_new("spec.script is empty")(new)
    assert invalid is not None and invalid.phase is Phase.ERROR and invalid.event is True
