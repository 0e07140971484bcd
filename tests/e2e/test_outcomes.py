"""Failing, TypeScript, syntax-error, timeout runs and a three-test JobRun each end as specified."""

from __future__ import annotations

from typing import Any

from supertest.kube.names import GROUP, VERSION
from tests.e2e.conftest import TERMINAL, Cluster, E2eEnv, OperatorFactory, make_testrun
from tests.e2e.scripts import FAILING, SYNTAX_ERROR, TINY, TYPESCRIPT, sleeping
from tests.k8s.wait import wait_for


def test_outcomes(e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory) -> None:
    # The production pod-deadline grace (30 s, not the e2e tier's 5 s): "slow" must end by the runner's own deadline,
    # and on a busy machine the runner needed more than 5 s to stop Playwright and upload, so the pod deadline won.
    start_operator(running_capacity="5", timeout_grace_seconds="30")
    cluster.create_run(make_testrun("failing", FAILING))
    cluster.create_run(make_testrun("typescript", TYPESCRIPT, language="typescript"))
    cluster.create_run(make_testrun("syntax", SYNTAX_ERROR))
    # Two 6 s tests under an 8 s run deadline: the runner's own deadline stops the second one.
    cluster.create_run(make_testrun("slow", sleeping(6, tests=2), timeoutSeconds=8))
    job: dict[str, Any] = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "JobRun",
        "metadata": {"name": "three"},
        "spec": {"tests": [{"name": f"step-{i}", "script": TINY} for i in (1, 2, 3)]},
    }
    cluster.create_run(job)

    expected = {"failing": "Failed", "typescript": "Passed", "syntax": "Error", "slow": "TimedOut"}
    for name, phase in expected.items():
        run = cluster.wait_phase(name, TERMINAL, timeout=240)
        assert run["status"]["phase"] == phase, (name, run["status"])

    failing = cluster.run("failing")["status"]  # type: ignore[index]
    assert failing["summary"]["failed"] == 1
    assert {c["type"]: c["status"] for c in failing["conditions"]}["Failed"] == "True"
    syntax = cluster.run("syntax")["status"]  # type: ignore[index]
    assert "SyntaxError" in syntax["message"] or "Unexpected" in syntax["message"], syntax["message"]
    assert cluster.run("typescript")["status"]["summary"]["passed"] == 1  # type: ignore[index]
    assert "timed out" in cluster.run("slow")["status"]["message"]  # type: ignore[index]

    jobrun = cluster.wait_phase("three", TERMINAL, timeout=240, plural="jobruns")
    assert jobrun["status"]["phase"] == "Passed", jobrun["status"]
    assert jobrun["status"]["summary"]["total"] == 3 and jobrun["status"]["summary"]["passed"] == 3
    keys = {
        o["Key"] for o in e2e.s3.client().list_objects_v2(Bucket=e2e.buckets["job"], Prefix="runs/three/")["Contents"]
    }
    assert "runs/three/report/index.html" in keys  # one combined report for the three tests
    assert cluster.kubectl("get", "jr", "three").stdout.split("\n")[1].split()[1:4] == ["Passed", "3", "0"]
    table = cluster.kubectl("get", "supertest").stdout
    assert "three" in table and "failing" in table


def test_cancel_and_delete(cluster: Cluster, start_operator: OperatorFactory) -> None:
    start_operator()
    cluster.create_run(make_testrun("cancel-me", sleeping(60), timeoutSeconds=120))
    cluster.create_run(make_testrun("delete-me", sleeping(60), timeoutSeconds=120))
    cluster.wait_phase("cancel-me", "Running", timeout=120)
    cluster.wait_phase("delete-me", "Running", timeout=120)

    cluster.kubectl("patch", "tr", "cancel-me", "--type=merge", "-p", '{"spec":{"cancel":true}}')
    run = cluster.wait_phase("cancel-me", TERMINAL, timeout=60)
    assert run["status"]["phase"] == "Cancelled", run["status"]
    wait_for(
        lambda: not [p for p in cluster.pods() if p.metadata.name == "cancel-me-a1"],
        timeout=60,
        message="the cancelled run's pod to be deleted",
    )
    unset = cluster.kubectl("patch", "tr", "cancel-me", "--type=merge", "-p", '{"spec":{"cancel":false}}', check=False)
    assert unset.returncode != 0 and "cannot be unset" in unset.stderr

    cluster.kubectl("delete", "tr", "delete-me", "--wait=true", "--timeout=60s")
    wait_for(
        lambda: not [p for p in cluster.pods() if p.metadata.name == "delete-me-a1"],
        timeout=60,
        message="the deleted run's pod to go",
    )
    wait_for(
        lambda: "Cancelled" in [e.reason for e in cluster.events_for("delete-me")],
        timeout=20,
        message="a Cancelled event for the deleted run",
    )


def test_pod_deleted_is_error_then_retried(cluster: Cluster, start_operator: OperatorFactory) -> None:
    start_operator()
    cluster.create_run(make_testrun("flaky-infra", sleeping(4), retries=1, timeoutSeconds=120))
    cluster.wait_phase("flaky-infra", "Running", timeout=120)
    cluster.kubectl("delete", "pod", "flaky-infra-a1", "--wait=false")

    run = cluster.wait_phase("flaky-infra", {"Passed", "Failed", "Cancelled", "TimedOut"}, timeout=180)
    status = run["status"]
    assert status["phase"] == "Passed", status
    assert status["attempts"] == 2 and status["podName"] == "flaky-infra-a2"
    wait_for(
        lambda: "Passed" in [e.reason for e in cluster.events_for("flaky-infra")],
        timeout=20,
        message="the Passed event",
    )
    events = cluster.events_for("flaky-infra")
    reasons = [e.reason for e in events]
    # Queued, Admitted, PodRunning, Pod{Failed,Deleted} (Error, retry scheduled), Retrying (Queued), Admitted, ...
    error = next(e for e in events if e.type == "Warning")
    assert error.reason in ("PodFailed", "PodDeleted", "PodVanished"), reasons
    assert "retrying in" in error.message, error.message
    assert reasons.index(error.reason) < reasons.index("Retrying") < reasons.index("Passed"), reasons
    assert reasons.count("Admitted") == 2, reasons


def test_invalid_specs_are_rejected_by_the_schema(cluster: Cluster) -> None:
    both = make_testrun("both", TINY)
    both["spec"]["scriptFrom"] = {"configMapKeyRef": {"name": "x", "key": "y.js"}}
    out = cluster.apply(both, check=False)
    assert out.returncode != 0 and "exactly one of spec.script or spec.scriptFrom" in out.stderr
    bad_lang = make_testrun("lang", TINY, language="cobol")
    out = cluster.apply(bad_lang, check=False)
    assert out.returncode != 0 and "Unsupported value" in out.stderr
    out = cluster.apply(make_testrun("neg", TINY, timeoutSeconds=0), check=False)
    assert out.returncode != 0 and "timeoutSeconds" in out.stderr
    out = cluster.apply(make_testrun("x" * 60, TINY), check=False)
    assert out.returncode != 0 and "at most 52 characters" in out.stderr
    out = cluster.apply(make_testrun("big", "x" * 262_145), check=False)
    assert out.returncode != 0 and "262144" in out.stderr
