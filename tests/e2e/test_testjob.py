"""TestJob scheduling on the real control plane, in real time (every-minute schedules, no clock override).

Each tick's JobRun is named `<testjob>-<minutes since epoch>`, so a test can tell exactly which tick a run
belongs to; creation times are checked against the tick they name.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from kubernetes.client.exceptions import ApiException

from supertest.db.engine import make_engine
from supertest.kube.models import parse_time
from supertest.kube.names import GROUP, VERSION
from tests.e2e.conftest import TERMINAL, Cluster, E2eEnv, OperatorFactory, wait_until
from tests.e2e.scripts import TINY

EVERY_MINUTE = "* * * * *"
# Outlives two ticks (past Playwright's 30 s default test timeout); these runs end by being cancelled.
LONG = """\
const { test } = require('@playwright/test');
test('long', async () => { test.setTimeout(600000); await new Promise(r => setTimeout(r, 300000)); });
"""


def make_testjob(name: str, script: str = TINY, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TestJob",
        "metadata": {"name": name},
        "spec": {"schedule": EVERY_MINUTE, "tests": [{"name": "check", "script": script}], **spec},
    }


def get_testjob(cluster: Cluster, name: str) -> dict[str, Any]:
    return cluster.custom.get_namespaced_custom_object(GROUP, VERSION, cluster.ns, "testjobs", name)  # type: ignore[no-any-return]


def runs_of(cluster: Cluster, name: str) -> dict[str, dict[str, Any]]:
    items = cluster.custom.list_namespaced_custom_object(
        GROUP, VERSION, cluster.ns, "jobruns", label_selector=f"supertest.dev/testjob={name}"
    )["items"]
    return {i["metadata"]["name"]: i for i in items}


def minute(moment: datetime) -> int:
    return int(moment.timestamp()) // 60


def tick_run(name: str, tick: datetime) -> str:
    return f"{name}-{minute(tick)}"


def next_tick(after: datetime) -> datetime:
    return datetime.fromtimestamp((minute(after) + 1) * 60, tz=UTC)


def created(body: dict[str, Any]) -> datetime:
    stamp = parse_time(body["metadata"]["creationTimestamp"])
    assert stamp is not None
    return stamp


def wait_for_clock(moment: datetime) -> None:
    """Wait until the wall clock passes `moment` (the event under test is time itself)."""
    seconds = (moment - datetime.now(UTC)).total_seconds()
    wait_until(lambda: datetime.now(UTC) >= moment, timeout=max(1.0, seconds + 5), message=f"clock at {moment}")


def event_reasons(cluster: Cluster, name: str) -> list[str]:
    out = cluster.kubectl(
        "get", "events", "-o", "json", "--field-selector", f"involvedObject.kind=TestJob,involvedObject.name={name}"
    )
    return [e["reason"] for e in json.loads(out.stdout)["items"]]


def condition(body: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [c for c in (body.get("status") or {}).get("conditions", []) if c["type"] == kind]
    assert found, f"no {kind} condition in {body.get('status')}"
    return found[0]


def job_row(e2e: E2eEnv, namespace: str, name: str, next_run_at: datetime) -> Any:
    engine = make_engine(e2e.database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "select id, managed_by, schedule, last_run_at, next_run_at from jobs "
                    "where k8s_namespace = :ns and k8s_name = :name"
                ),
                {"ns": namespace, "name": name},
            ).one_or_none()
    finally:
        engine.dispose()
    if row is None or row.next_run_at is None or row.next_run_at.replace(tzinfo=UTC) != next_run_at:
        return None
    return row


# Collected only in the real-kubelet tier (tests/e2e/kubelet/test_scenarios.py): three minutes of wall clock, where
# container start-up is not what is measured, so the node agent has no reason to run it too (it cost CI 2.5 min).
def every_minute_ticks_survive_an_operator_kill_and_keep_history(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory
) -> None:
    operator = start_operator(running_capacity="4")
    cluster.apply(make_testjob("tick", startingDeadlineSeconds=120, successfulRunsHistoryLimit=2))
    tj = get_testjob(cluster, "tick")
    first = next_tick(created(tj))

    # The printer columns show the schedule and the next tick before anything ran.
    wait_until(
        lambda: (get_testjob(cluster, "tick").get("status") or {}).get("nextScheduleTime"), 30, "nextScheduleTime"
    )
    assert parse_time(get_testjob(cluster, "tick")["status"]["nextScheduleTime"]) == first
    row = cluster.kubectl("get", "tj", "tick", "--no-headers").stdout.split()
    assert row[0] == "tick" and row[1:6] == ["*"] * 5 and row[6] == "false", row

    # Tick 1 fires on time, and nothing fired before it.
    run1 = wait_until(lambda: runs_of(cluster, "tick").get(tick_run("tick", first)), 90, "the first tick's run")
    assert first <= created(run1) < first + timedelta(seconds=10), (first, created(run1))
    assert list(runs_of(cluster, "tick")) == [tick_run("tick", first)]
    assert run1["metadata"]["labels"]["supertest.dev/trigger"] == "schedule"
    assert run1["metadata"]["ownerReferences"][0]["uid"] == tj["metadata"]["uid"]

    # Operator killed before tick 2 and started after it. While it is down, its status write is lost too:
    # the tick must still neither be skipped (it is within startingDeadlineSeconds) nor fire twice.
    # Run 1 ends first: killed before admitting it, the restarted operator would run it alongside run 2, and either
    # could finish last; the history limit (newest two by completion) would then keep run 1 or run 2 by chance,
    # which is what made this test flaky (it waited for exactly {run 2, run 3}).
    cluster.wait_phase(tick_run("tick", first), "Passed", timeout=50, plural="jobruns")
    second = first + timedelta(minutes=1)
    operator.kill()
    cluster.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, cluster.ns, "testjobs", "tick", {"status": {"lastScheduleTime": None}}
    )
    wait_for_clock(second + timedelta(seconds=8))
    assert tick_run("tick", second) not in runs_of(cluster, "tick"), "a run appeared with no operator"
    start_operator(running_capacity="4")
    run2 = wait_until(lambda: runs_of(cluster, "tick").get(tick_run("tick", second)), 60, "the missed tick, late")
    assert created(run2) >= second + timedelta(seconds=8)
    assert set(runs_of(cluster, "tick")) == {tick_run("tick", first), tick_run("tick", second)}

    # Tick 3 on time; then the history limit keeps the newest two Passed runs and deletes the first.
    third = second + timedelta(minutes=1)
    run3 = wait_until(lambda: runs_of(cluster, "tick").get(tick_run("tick", third)), 90, "the third tick's run")
    assert third <= created(run3) < third + timedelta(seconds=10)
    # Postgres keeps the schedule times of the GitOps job (the row the UI shows read-only).
    fourth = third + timedelta(minutes=1)
    job = wait_until(lambda: job_row(e2e, cluster.ns, "tick", next_run_at=fourth), 30, "the job row's next_run_at")
    assert job.managed_by == "gitops" and job.schedule == EVERY_MINUTE
    assert job.last_run_at.replace(tzinfo=UTC) >= third
    # Suspended now, so no fourth tick muddles the history check (suspend itself is checked in the next test).
    cluster.custom.patch_namespaced_custom_object(
        GROUP, VERSION, cluster.ns, "testjobs", "tick", {"spec": {"suspend": True}}
    )
    wait_until(
        lambda: (
            set(runs_of(cluster, "tick")) == {tick_run("tick", second), tick_run("tick", third)}
            and all((r.get("status") or {}).get("phase") == "Passed" for r in runs_of(cluster, "tick").values())
        ),
        120,
        "history limit applied after three Passed runs",
    )
    status = get_testjob(cluster, "tick")["status"]
    assert parse_time(status["lastScheduleTime"]) == third
    assert parse_time(status["lastSuccessfulTime"]) is not None
    assert status.get("active", []) == []
    assert condition(get_testjob(cluster, "tick"), "Scheduled")["reason"] == "Suspended"
    reasons = event_reasons(cluster, "tick")
    assert reasons.count("SuccessfulCreate") == 3, reasons
    assert "SuccessfulDelete" in reasons, reasons

    # Postgres has every run's history, the deleted first run's too, linked to the job.
    engine = make_engine(e2e.database_url)
    try:
        with engine.connect() as conn:
            runs = conn.execute(
                sa.text("select id, phase, trigger, job_id from runs where namespace = :ns"), {"ns": cluster.ns}
            ).all()
    finally:
        engine.dispose()
    by_id = {r.id: r for r in runs}
    for tick in (first, second, third):
        row = by_id[tick_run("tick", tick)]
        assert (row.phase, row.trigger, row.job_id) == ("Passed", "schedule", job.id)


def test_forbid_replace_suspend_deadline_and_manual_runs(cluster: Cluster, start_operator: OperatorFactory) -> None:
    start_operator(running_capacity="6")
    long = LONG
    template = {"timeoutSeconds": 600}
    cluster.apply(
        make_testjob("forbid", long, concurrencyPolicy="Forbid", startingDeadlineSeconds=15, runTemplate=template)
    )
    cluster.apply(make_testjob("replace", long, concurrencyPolicy="Replace", runTemplate=template))
    cluster.apply(make_testjob("paused", suspend=True, startingDeadlineSeconds=20))
    first = next_tick(created(get_testjob(cluster, "forbid")))
    assert next_tick(created(get_testjob(cluster, "paused"))) == first, "created across a minute boundary"

    # A suspended TestJob says so and has no next time; a manual run still starts, once per annotation value.
    wait_until(
        lambda: (
            condition(get_testjob(cluster, "paused"), "Scheduled")["reason"] == "Suspended"
            if (get_testjob(cluster, "paused").get("status") or {}).get("conditions")
            else False
        ),
        30,
        "Suspended condition",
    )
    assert "nextScheduleTime" not in get_testjob(cluster, "paused")["status"]
    cluster.kubectl("annotate", "tj", "paused", "supertest.dev/run-now=first")
    manual = wait_until(lambda: list(runs_of(cluster, "paused").values()), 30, "the manual run")
    assert manual[0]["metadata"]["labels"]["supertest.dev/trigger"] == "manual"
    cluster.kubectl("annotate", "--overwrite", "tj", "paused", "supertest.dev/run-now=first")

    # Tick 1: forbid and replace start a long run each; the suspended one starts nothing.
    forbid1, replace1 = tick_run("forbid", first), tick_run("replace", first)
    wait_until(lambda: forbid1 in runs_of(cluster, "forbid") and replace1 in runs_of(cluster, "replace"), 90, "tick 1")
    wait_until(lambda: cluster.phase(forbid1, "jobruns") == "Running", 90, "forbid's first run running")
    wait_until(lambda: cluster.phase(replace1, "jobruns") == "Running", 90, "replace's first run running")

    # Tick 2: Forbid skips (its run is still active), Replace cancels its run and starts a new one.
    second = first + timedelta(minutes=1)
    replace2 = tick_run("replace", second)
    wait_until(lambda: replace2 in runs_of(cluster, "replace"), 90, "replace's second run")
    assert created(runs_of(cluster, "replace")[replace2]) < second + timedelta(seconds=10)
    wait_until(lambda: cluster.phase(replace1, "jobruns") == "Cancelled", 60, "the replaced run cancelled")
    wait_until(lambda: "JobAlreadyActive" in event_reasons(cluster, "forbid"), 30, "Forbid's skip Event")
    assert set(runs_of(cluster, "forbid")) == {forbid1}
    assert [a["name"] for a in get_testjob(cluster, "forbid")["status"]["active"]] == [forbid1]
    assert "SuccessfulCancel" in event_reasons(cluster, "replace")

    # Forbid's run ends after tick 2's deadline: tick 2 is recorded as missed, never run late; tick 3 runs.
    wait_for_clock(second + timedelta(seconds=22))
    cluster.custom.patch_namespaced_custom_object(
        GROUP, VERSION, cluster.ns, "jobruns", forbid1, {"spec": {"cancel": True}}
    )
    wait_until(lambda: cluster.phase(forbid1, "jobruns") in TERMINAL, 60, "forbid's first run ends")

    # Unsuspended after tick 2's deadline (20 s) as well: ticks 1 and 2 are missed (with a reason), tick 3 runs.
    cluster.custom.patch_namespaced_custom_object(
        GROUP, VERSION, cluster.ns, "testjobs", "paused", {"spec": {"suspend": False}}
    )
    missed = wait_until(
        lambda: [
            c
            for c in (get_testjob(cluster, "paused").get("status") or {}).get("conditions", [])
            if c["type"] == "MissedSchedule" and c["status"] == "True"
        ],
        30,
        "MissedSchedule condition",
    )
    assert missed[0]["reason"] == "StartingDeadlineExceeded", missed
    assert "MissSchedule" in event_reasons(cluster, "paused")

    third = second + timedelta(minutes=1)
    forbid3, paused3 = tick_run("forbid", third), tick_run("paused", third)
    wait_until(lambda: forbid3 in runs_of(cluster, "forbid") and paused3 in runs_of(cluster, "paused"), 90, "tick 3")
    assert tick_run("forbid", second) not in runs_of(cluster, "forbid")
    assert set(runs_of(cluster, "paused")) == {manual[0]["metadata"]["name"], paused3}
    for name in ("forbid", "replace"):
        for run in runs_of(cluster, name):
            try:
                cluster.custom.patch_namespaced_custom_object(
                    GROUP, VERSION, cluster.ns, "jobruns", run, {"spec": {"cancel": True}}
                )
            except ApiException as exc:
                # Tick 3 cancelled Replace's second run, so its first (also cancelled) can be trimmed by the history
                # limit between the listing and this patch: a run already gone needs no cancel.
                if exc.status != 404:
                    raise
