"""The TestJob scheduler's own logic, against an in-memory stand-in for the apiserver (a unit test: no cluster).

The real control plane runs the same code in tests/e2e/test_testjob.py.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import pytest
from supertest_operator.builders import build_testjob_run
from supertest_operator.handlers import scheduler, testjob_webhook
from supertest_operator.settings import OperatorSettings
from supertest_operator.testjob import OwnedRun, TestJobView, manual_run_name
from supertest_operator.testjob_mirror import mirror_of

from supertest.db import testjobs as rows
from supertest.kube.client import KubeError
from supertest.kube.models import TestJobSpec, TestJobStatus, format_time

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeKube:
    """Stores objects by path; create of an existing name is a 409, like the apiserver."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.creates: list[str] = []
        self.deletes: list[str] = []

    async def list(self, path: str, label_selector: str | None = None) -> list[dict[str, Any]]:
        prefix = path.rstrip("/") + "/"
        found = [
            copy.deepcopy(o)
            for p, o in self.objects.items()
            if p.startswith(prefix) and p.count("/") == prefix.count("/")
        ]
        if label_selector:
            found = [o for o in found if label_selector in (o["metadata"].get("labels") or {})]
        return found

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        key = f"{path}/{body['metadata']['name']}"
        if key in self.objects:
            raise KubeError(409, "AlreadyExists", f"{key} already exists")
        obj = copy.deepcopy(body)
        obj["metadata"].update(namespace=path.split("/")[5], uid=f"uid-{len(self.objects)}")
        obj["metadata"].setdefault("creationTimestamp", format_time(T0))
        self.objects[key] = obj
        self.creates.append(body["metadata"]["name"])
        return obj

    async def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        target = self.objects[path.removesuffix("/status")]
        for part, values in body.items():
            section = target.setdefault(part, {})
            for k, v in values.items():
                if v is None:
                    section.pop(k, None)
                else:
                    section[k] = v
        return target

    async def delete(self, path: str, **_: Any) -> None:
        self.objects.pop(path, None)
        self.deletes.append(path.rsplit("/", 1)[1])


@dataclass
class FakeCtx:
    kube: FakeKube
    settings: OperatorSettings
    sessions: None = None
    events: list[tuple[str, str]] = field(default_factory=list)
    skips_reported: dict[tuple[str, str], str] = field(default_factory=dict)
    missed_reported: dict[tuple[str, str], datetime] = field(default_factory=dict)
    testjob_rows: dict[tuple[str, str], Any] = field(default_factory=dict)

    def post_event(self, ref: Any, reason: str, message: str, warning: bool = False) -> None:
        self.events.append((reason, message))


TJ_PATH = "/apis/supertest.dev/v1alpha1/namespaces/ns/testjobs"
RUNS_PATH = "/apis/supertest.dev/v1alpha1/namespaces/ns/jobruns"


def _ctx(settings: OperatorSettings, **spec: Any) -> FakeCtx:
    settings = settings.model_copy(update={"namespaces": "ns"})
    ctx = FakeCtx(kube=FakeKube(), settings=settings)
    ctx.kube.objects[f"{TJ_PATH}/nightly"] = {
        "apiVersion": "supertest.dev/v1alpha1",
        "kind": "TestJob",
        "metadata": {"name": "nightly", "namespace": "ns", "uid": "tj-uid", "creationTimestamp": format_time(T0)},
        "spec": {"schedule": "*/5 * * * *", "tests": [{"name": "a", "script": "x"}], **spec},
    }
    return ctx


async def _pass(ctx: FakeCtx, at: datetime) -> float:
    return await scheduler.schedule_pass(ctx, at)  # type: ignore[arg-type]


def _runs(ctx: FakeCtx) -> dict[str, dict[str, Any]]:
    return {p.rsplit("/", 1)[1]: o for p, o in ctx.kube.objects.items() if p.startswith(RUNS_PATH)}


def _finish(ctx: FakeCtx, name: str, phase: str, at: datetime) -> None:
    _runs(ctx)[name]["status"] = {"phase": phase, "completionTime": format_time(at)}


def _status(ctx: FakeCtx) -> dict[str, Any]:
    return ctx.kube.objects[f"{TJ_PATH}/nightly"].get("status") or {}


async def test_a_tick_creates_one_owned_run_and_a_second_pass_does_not_repeat_it(settings: OperatorSettings) -> None:
    ctx = _ctx(settings)
    delay = await _pass(ctx, T0 + timedelta(minutes=1))
    assert ctx.kube.creates == [] and delay == scheduler.MAX_SLEEP_SECONDS  # capped; the tick is 240 s away
    assert _status(ctx)["nextScheduleTime"] == format_time(T0 + timedelta(minutes=5))
    tick = T0 + timedelta(minutes=5)
    await _pass(ctx, tick + timedelta(seconds=1))
    name = f"nightly-{int(tick.timestamp()) // 60}"
    assert ctx.kube.creates == [name]
    run = _runs(ctx)[name]
    assert run["metadata"]["ownerReferences"][0]["uid"] == "tj-uid"
    assert run["metadata"]["annotations"]["supertest.dev/scheduled-at"] == format_time(tick)
    assert run["metadata"]["annotations"]["supertest.dev/job-id"] == rows.gitops_job_id("ns", "nightly")
    assert _status(ctx)["lastScheduleTime"] == format_time(tick)
    assert [a["name"] for a in _status(ctx)["active"]] == [name]
    await _pass(ctx, tick + timedelta(seconds=2))
    assert ctx.kube.creates == [name]
    assert [r for r, _ in ctx.events].count("SuccessfulCreate") == 1


async def test_a_lost_status_write_is_recovered_from_the_runs_annotation(settings: OperatorSettings) -> None:
    ctx = _ctx(settings, concurrencyPolicy="Replace")
    tick = T0 + timedelta(minutes=5)
    await _pass(ctx, tick + timedelta(seconds=1))
    ctx.kube.objects[f"{TJ_PATH}/nightly"]["status"].pop("lastScheduleTime")  # as if the write never happened
    await _pass(ctx, tick + timedelta(seconds=30))
    # Not re-decided as a new tick: Replace would otherwise cancel the run it just created.
    assert len(ctx.kube.creates) == 1
    assert not any(r == "SuccessfulCancel" for r, _ in ctx.events)
    assert _status(ctx)["lastScheduleTime"] == format_time(tick)


async def test_forbid_skips_once_per_tick_and_replace_cancels(settings: OperatorSettings) -> None:
    ctx = _ctx(settings, concurrencyPolicy="Forbid")
    first = T0 + timedelta(minutes=5)
    await _pass(ctx, first)
    await _pass(ctx, first + timedelta(minutes=5))
    await _pass(ctx, first + timedelta(minutes=5, seconds=3))
    assert len(ctx.kube.creates) == 1
    assert [r for r, _ in ctx.events].count("JobAlreadyActive") == 1

    ctx = _ctx(settings, concurrencyPolicy="Replace")
    await _pass(ctx, first)
    await _pass(ctx, first + timedelta(minutes=5))
    old, new = ctx.kube.creates
    assert _runs(ctx)[old]["spec"]["cancel"] is True
    assert "cancel" not in _runs(ctx)[new]["spec"]


async def test_missed_ticks_past_the_deadline_are_recorded_not_run(settings: OperatorSettings) -> None:
    ctx = _ctx(settings, startingDeadlineSeconds=60)
    await _pass(ctx, T0 + timedelta(minutes=17))  # ticks at 5, 10, 15: the newest is 2 minutes late
    assert ctx.kube.creates == []
    cond = next(c for c in _status(ctx)["conditions"] if c["type"] == "MissedSchedule")
    assert (cond["status"], cond["reason"]) == ("True", "StartingDeadlineExceeded")
    assert "3 tick(s)" in cond["message"]
    await _pass(ctx, T0 + timedelta(minutes=17, seconds=5))
    assert [r for r, _ in ctx.events].count("MissSchedule") == 1
    await _pass(ctx, T0 + timedelta(minutes=20, seconds=1))
    assert len(ctx.kube.creates) == 1


async def test_history_limits_delete_the_oldest_finished_runs(settings: OperatorSettings) -> None:
    ctx = _ctx(settings, successfulRunsHistoryLimit=1, failedRunsHistoryLimit=1)
    names = []
    for i in range(1, 5):
        tick = T0 + timedelta(minutes=5 * i)
        await _pass(ctx, tick)
        names.append(ctx.kube.creates[-1])
        _finish(ctx, names[-1], "Passed" if i != 2 else "Failed", tick + timedelta(seconds=30))
    await _pass(ctx, T0 + timedelta(minutes=21))
    assert set(_runs(ctx)) == {names[1], names[3]}
    assert ctx.kube.deletes == [names[0], names[2]] or set(ctx.kube.deletes) == {names[0], names[2]}
    assert _status(ctx)["lastSuccessfulTime"] == format_time(T0 + timedelta(minutes=20, seconds=30))


async def test_suspend_manual_runs_and_an_invalid_schedule(settings: OperatorSettings) -> None:
    ctx = _ctx(settings, suspend=True)
    ctx.kube.objects[f"{TJ_PATH}/nightly"]["metadata"]["annotations"] = {"supertest.dev/run-now": "go"}
    await _pass(ctx, T0 + timedelta(minutes=11))
    assert ctx.kube.creates == [manual_run_name("nightly", "go")]
    assert _runs(ctx)[ctx.kube.creates[0]]["metadata"]["labels"]["supertest.dev/trigger"] == "manual"
    assert "nextScheduleTime" not in _status(ctx)
    assert _status(ctx)["lastManualRun"] == "go"
    await _pass(ctx, T0 + timedelta(minutes=12))
    assert len(ctx.kube.creates) == 1

    ctx = _ctx(settings, schedule="61 * * * *")
    await _pass(ctx, T0 + timedelta(minutes=11))
    cond = next(c for c in _status(ctx)["conditions"] if c["type"] == "Scheduled")
    assert (cond["status"], cond["reason"]) == ("False", "InvalidSchedule")
    assert "not a valid cron expression" in cond["message"]
    assert ctx.kube.creates == []


def test_run_manifest_copies_tests_and_template() -> None:
    spec = {
        "schedule": "@daily",
        "tests": [{"name": "a", "testId": "t1"}, {"name": "b", "script": "x", "language": "typescript"}],
        "runTemplate": {"timeoutSeconds": 30, "retries": 2, "env": [{"name": "BASE", "value": "u"}]},
    }
    run = build_testjob_run("nightly", spec, "nightly-1", "schedule", "job1", "Nightly", T0)
    assert run["spec"] == {
        "timeoutSeconds": 30,
        "retries": 2,
        "env": [{"name": "BASE", "value": "u"}],
        "tests": spec["tests"],
    }
    assert run["metadata"]["labels"]["supertest.dev/testjob"] == "nightly"
    assert run["metadata"]["annotations"] == {
        "supertest.dev/job-id": "job1",
        "supertest.dev/title": "Nightly",
        "supertest.dev/scheduled-at": format_time(T0),
    }


def test_names_ids_and_run_states() -> None:
    assert len(manual_run_name("x" * 43, "token")) <= 52
    assert manual_run_name("a", "1") == manual_run_name("a", "1") != manual_run_name("a", "2")
    assert len(rows.gitops_job_id("ns", "n")) <= 32
    body = {"metadata": {"name": "r", "namespace": "ns"}, "status": {"phase": "Error", "retryAt": format_time(T0)}}
    assert OwnedRun.from_body(body).active
    body["status"] = {"phase": "Error"}
    assert OwnedRun.from_body(body).finished
    assert scheduler.status_patch({"a": 1, "nextScheduleTime": "x"}, TestJobStatus()) == {
        "a": None,
        "nextScheduleTime": None,
    }


def test_webhook_refuses_bad_schedules_and_zones() -> None:
    testjob_webhook.validate({"spec": {"schedule": "*/5 * * * *", "timeZone": "Europe/Berlin"}})
    with pytest.raises(kopf.AdmissionError, match="5 fields"):
        testjob_webhook.validate({"spec": {"schedule": "* * *"}})
    with pytest.raises(kopf.AdmissionError, match="unknown time zone"):
        testjob_webhook.validate({"spec": {"schedule": "@daily", "timeZone": "Mars/Olympus"}})


def test_mirror_row_names_each_test_source() -> None:
    body = {
        "metadata": {"name": "n", "namespace": "ns", "creationTimestamp": format_time(T0)},
        "spec": {
            "schedule": "@daily",
            "tests": [
                {"name": "a", "script": "x"},
                {"name": "b", "testId": "t1"},
                {"name": "c", "scriptFrom": {"configMapKeyRef": {"name": "m", "key": "k"}}},
            ],
        },
    }
    view = TestJobView.from_body(body)
    row = mirror_of(view, TestJobSpec.model_validate(body["spec"]), TestJobStatus(), [])
    assert [(t.name, t.source, t.test_id) for t in row.tests] == [
        ("a", "inline", None),
        ("b", "stored", "t1"),
        ("c", "configMap", None),
    ]
    assert row.job_id is None and row.schedule == "@daily"


def _foreign_run(ctx: FakeCtx, name: str, annotations: dict[str, str], phase: str = "Passed") -> None:
    """A JobRun someone made by hand with our label but no owner reference."""
    ctx.kube.objects[f"{RUNS_PATH}/{name}"] = {
        "apiVersion": "supertest.dev/v1alpha1",
        "kind": "JobRun",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "labels": {"supertest.dev/testjob": "nightly"},
            "annotations": annotations,
            "creationTimestamp": format_time(T0),
        },
        "spec": {"tests": [{"name": "a", "script": "x"}]},
        "status": {"phase": phase, "completionTime": format_time(T0)},
    }


async def test_runs_only_labelled_like_ours_are_neither_history_nor_state(settings: OperatorSettings) -> None:
    ctx = _ctx(settings, successfulRunsHistoryLimit=0, concurrencyPolicy="Forbid")
    _foreign_run(ctx, "mine", {"supertest.dev/scheduled-at": "2099-01-01T00:00:00.000000Z"})
    _foreign_run(ctx, "broken", {"supertest.dev/scheduled-at": "not a time"}, phase="Running")
    await _pass(ctx, T0 + timedelta(minutes=5, seconds=1))
    assert {"mine", "broken"} <= set(_runs(ctx)), "a run we do not own was deleted"
    assert len(ctx.kube.creates) == 1, "Forbid counted a run we do not own, or the bad annotation stopped the pass"
    assert _status(ctx)["lastScheduleTime"] == format_time(T0 + timedelta(minutes=5))


async def test_a_schedule_that_never_fires_is_invalid_and_does_not_stop_the_others(settings: OperatorSettings) -> None:
    ctx = _ctx(settings, schedule="0 0 30 2 *")
    other = copy.deepcopy(ctx.kube.objects[f"{TJ_PATH}/nightly"])
    other["metadata"].update(name="other", uid="other-uid")
    other["spec"]["schedule"] = "*/5 * * * *"
    ctx.kube.objects[f"{TJ_PATH}/other"] = other
    await _pass(ctx, T0 + timedelta(minutes=5, seconds=1))
    cond = next(c for c in _status(ctx)["conditions"] if c["type"] == "Scheduled")
    assert (cond["reason"], "never fires" in cond["message"]) == ("InvalidSchedule", True)
    assert [n.rsplit("-", 1)[0] for n in ctx.kube.creates] == ["other"]


async def test_a_long_run_now_value_is_recorded_as_a_digest(settings: OperatorSettings) -> None:
    ctx = _ctx(settings)
    ctx.kube.objects[f"{TJ_PATH}/nightly"]["metadata"]["annotations"] = {"supertest.dev/run-now": "x" * 1000}
    await _pass(ctx, T0 + timedelta(minutes=1))
    await _pass(ctx, T0 + timedelta(minutes=2))
    assert len(ctx.kube.creates) == 1
    assert _status(ctx)["lastManualRun"].startswith("sha256:") and len(_status(ctx)["lastManualRun"]) <= 253
