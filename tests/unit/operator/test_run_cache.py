from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from supertest_operator.builders import spec_problem
from supertest_operator.run_cache import LAST_APPLIED, PodCache, RunCache, slim

from supertest.kube.models import parse_status
from tests.unit.operator.conftest import run_body


def body(name: str, rv: int, phase: str | None = None, uid: str = "uid-1", **spec: Any) -> dict[str, Any]:
    status = {"phase": phase} if phase else {}
    return run_body(name, spec={"script": "x" * 1000, **spec}, status=status, resourceVersion=str(rv), uid=uid)


def keys(cache: RunCache) -> set[str]:
    return {v.name for v in cache.views()}


def test_slim_drops_scripts_and_kubectls_copy_but_keeps_what_the_pass_reads() -> None:
    full = run_body(
        "j",
        kind="JobRun",
        spec={"tests": [{"name": "a", "script": "s" * 500}, {"name": "b", "testId": "t"}], "priority": 5},
        annotations={LAST_APPLIED: "{...}", "supertest.dev/title": "T"},
        managedFields=[{"manager": "kubectl"}],
    )
    small = slim(full)
    assert small["spec"] == {"tests": [{"name": "a"}, {"name": "b", "testId": "t"}], "priority": 5}
    assert small["metadata"]["annotations"] == {"supertest.dev/title": "T"}
    assert "managedFields" not in small["metadata"]
    assert "script" not in slim(run_body("t"))["spec"]


def test_an_older_event_does_not_undo_a_newer_write() -> None:
    cache = RunCache(spec_problem)
    cache.observe(body("a", 10, "Starting"))
    assert cache.observe(body("a", 9, "Queued")) is None
    [view] = cache.views()
    assert view.phase is not None and view.phase.value == "Starting"
    cache.observe(body("a", 11, "Failed"))
    assert cache.views()[0].phase.value == "Failed"  # type: ignore[union-attr]
    # Same name, new object: its (lower) version does not matter.
    cache.observe(body("a", 3, uid="uid-2"))
    assert cache.views()[0].ref.uid == "uid-2"


def test_waiting_names_follow_phase_cancel_and_deletion() -> None:
    cache = RunCache(spec_problem)
    cache.observe(body("new", 1))
    cache.observe(body("queued", 2, "Queued"))
    cache.observe(body("cancelled", 3, "Queued", cancel=True))
    cache.observe(body("running", 4, "Running"))
    assert cache.waiting_names() == {("ns", "new"), ("ns", "queued")}
    cache.observe(body("queued", 5, "Starting"))
    cache.forget(body("new", 6))
    assert cache.waiting_names() == set()
    assert keys(cache) == {"queued", "cancelled", "running"}


def test_the_waiting_set_follows_each_run_and_every_run_keeps_its_view() -> None:
    cache = RunCache(spec_problem)
    cache.observe(body("new", 1))
    cache.observe(body("queued", 2, "Queued"))
    cache.observe(body("running", 3, "Running"))
    cache.observe(body("failed", 4, "Failed"))
    deleting = run_body("deleting", status={"phase": "Queued"}, uid="u", deletionTimestamp="2026-01-01T00:00:00Z")
    cache.observe(deleting)
    assert {k[2] for k in cache.waiting_keys()} == {"new", "queued"}
    assert "script" not in cache.by_key()[("testruns", "ns", "queued")].spec
    cache.observe(body("queued", 6, "Starting"))
    assert {k[2] for k in cache.waiting_keys()} == {"new"}
    assert keys(cache) == {"new", "queued", "running", "failed", "deleting"}


def test_a_phaseless_runs_spec_is_checked_on_the_full_body() -> None:
    cache = RunCache(spec_problem)
    cache.observe(run_body("bad", spec={}, resourceVersion="1"))  # neither script nor scriptFrom
    cache.observe(body("good", 2))
    problem = cache.problem(("testruns", "ns", "bad"))
    assert problem is not None and problem.startswith("invalid spec")
    assert cache.problem(("testruns", "ns", "good")) is None


def test_a_full_list_replaces_the_content_but_keeps_what_changed_since() -> None:
    cache = RunCache(spec_problem)
    cache.observe(body("gone-before", 5, "Queued"))  # deleted before the list, its DELETED event missed
    cache.begin_list()
    cache.observe(body("created-after", 25))  # seen while the list was being read
    cache.observe(body("changed-after", 26, "Starting"))
    cache.observe(body("deleted-after", 27, "Queued"))
    cache.forget(body("deleted-after", 28, "Queued"))
    for listed in (body("changed-after", 12, "Queued"), body("deleted-after", 13, "Queued"), body("kept", 14)):
        cache.listed(listed)
    cache.finish_list("20")
    assert cache.synced
    assert keys(cache) == {"created-after", "changed-after", "kept"}
    phases = {v.name: v.phase.value if v.phase else None for v in cache.views()}
    assert phases["changed-after"] == "Starting"
    assert cache.waiting_names() == {("ns", "created-after"), ("ns", "kept")}


def test_an_aborted_list_leaves_the_content_as_it_was() -> None:
    cache = RunCache(spec_problem)
    cache.observe(body("a", 1, "Queued"))
    cache.begin_list()
    cache.listed(body("b", 2))
    cache.abort_list()
    assert keys(cache) == {"a"} and not cache.synced


def test_the_pass_sweeps_only_busy_runs_not_the_queue_or_the_finished() -> None:
    cache = RunCache(spec_problem)
    for name, rv, phase in (
        ("new", 1, None),
        ("queued", 2, "Queued"),
        ("running", 3, "Running"),
        ("passed", 4, "Passed"),
    ):
        cache.observe(body(name, rv, phase))
    cache.observe(body("cancelling", 5, "Queued", cancel=True))
    retrying = body("retrying", 6, "Error")
    retrying["status"]["retryAt"] = "2026-01-01T00:01:00Z"
    cache.observe(retrying)
    assert {k[2] for k in cache.waiting_keys()} == {"new", "queued"}
    assert {k[2] for k in cache.busy_keys()} == {"running", "cancelling", "retrying"}
    cache.observe(body("running", 7, "Failed"))
    cache.forget(body("cancelling", 8))
    assert {k[2] for k in cache.busy_keys()} == {"retrying"}
    assert set(cache.by_key()) == {("testruns", "ns", n) for n in ("new", "queued", "running", "passed", "retrying")}


def pod(name: str, rv: int, phase: str = "Running") -> dict[str, Any]:
    meta = {"name": name, "namespace": "ns", "resourceVersion": str(rv), "labels": {"supertest.dev/run": "r"}}
    return {
        "metadata": {**meta, "managedFields": [{}]},
        "spec": {"nodeName": "n1", "containers": [{}]},
        "status": {"phase": phase, "startTime": "2026-01-01T00:00:00Z", "containerStatuses": [{}]},
    }


def test_pod_cache_keeps_only_what_the_pass_reads_and_ignores_older_events() -> None:
    pods = PodCache()
    pods.observe(pod("p", 5))
    pods.observe(pod("p", 4, "Pending"))  # late
    [held] = pods.pods()
    assert held == {
        "metadata": {"name": "p", "namespace": "ns", "resourceVersion": "5", "labels": {"supertest.dev/run": "r"}},
        "spec": {"nodeName": "n1"},
        "status": {"phase": "Running", "startTime": "2026-01-01T00:00:00Z"},
    }
    pods.observe(pod("p", 6), deleted=True)
    assert pods.pods() == []


def test_pod_cache_list_keeps_newer_pods_and_forgets_deleted_ones() -> None:
    pods = PodCache()
    pods.observe(pod("stale", 3))  # gone before the list
    pods.begin_list()
    pods.observe(pod("created-after", 30))
    pods.observe(pod("deleted-after", 31), deleted=True)
    pods.listed(pod("deleted-after", 12))
    pods.listed(pod("kept", 13))
    pods.finish_list("20")
    assert sorted(p["metadata"]["name"] for p in pods.pods()) == ["created-after", "kept"]


def test_a_finished_run_keeps_only_what_its_ttl_and_owner_checks_need() -> None:
    status = {"phase": "Failed", "completionTime": "t", "podName": "p", "summary": {"failed": 1}, "conditions": []}
    assert slim(run_body("f", status=status))["status"] == {"phase": "Failed", "completionTime": "t", "podName": "p"}
    retrying = {"phase": "Error", "retryAt": "t2", "conditions": [], "podName": "p"}
    assert slim(run_body("e", status=retrying))["status"] == retrying  # still busy: kept whole


def test_cached_statuses_share_what_runs_have_in_common() -> None:
    """The cache holds a parsed status per run (thousands at depth): equal parts are one object, not one each."""
    condition = {"type": "Admitted", "status": "False", "reason": "Queued", "message": "waiting for a running slot"}
    cache = RunCache(spec_problem)
    for i, name in enumerate(("a", "b")):
        # Strings of their own, as each parsed event has (literals would be one object already).
        stamped = {key: value.encode().decode() for key, value in condition.items()}
        stamped["lastTransitionTime"] = b"2026-12-02T03:05:00Z".decode()
        status = {"phase": "Queued", "queuedAt": f"2026-12-02T03:05:00.00000{i}Z", "conditions": [stamped]}
        namespace = b"ns".decode()
        meta = {"resourceVersion": str(10 + i), "uid": f"uid-{name}", "namespace": namespace}
        cache.observe(run_body(name, status=status, **meta))
    cache.observe(run_body("c", resourceVersion="20", uid="uid-c"))
    a, b, c = (cache.view(("testruns", "ns", n)) for n in "abc")
    assert a is not None and b is not None and c is not None
    assert a.status.model_fields_set is b.status.model_fields_set
    (ca,), (cb,) = a.status.conditions, b.status.conditions
    assert ca.model_fields_set is cb.model_fields_set
    assert ca.reason is cb.reason and ca.last_transition_time is cb.last_transition_time
    assert a.ref.namespace is b.ref.namespace
    assert a.status.queued_at != b.status.queued_at  # what differs stays each run's own
    assert c.status is parse_status(None) and not c.labels
    with pytest.raises(ValidationError):  # shared, so frozen: a change is a model_copy, never in place
        a.status.phase = None  # type: ignore[misc]
