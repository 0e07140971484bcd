from __future__ import annotations

from typing import Any

from supertest_operator.handlers.pod_status import classify, run_ref_of

from supertest.events import Summary
from supertest.phases import Phase
from supertest.verdict import FailedTest, Verdict, VerdictReason, encode


def pod(phase: str, state: dict[str, Any] | None = None, deleting: bool = False, **status: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "r-a1", "namespace": "ns"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    statuses = [{"name": "runner", "state": state}] if state is not None else []
    return {"metadata": meta, "status": {"phase": phase, "containerStatuses": statuses, **status}}


def done(code: int, **kw: Any) -> dict[str, Any]:
    return {"terminated": {"exitCode": code, **kw}}


def test_exit_codes_map_to_phases() -> None:
    assert classify(pod("Succeeded", done(0)), False).phase is Phase.PASSED  # type: ignore[union-attr]
    assert classify(pod("Failed", done(1)), False).phase is Phase.FAILED  # type: ignore[union-attr]
    assert classify(pod("Failed", done(3)), False).phase is Phase.TIMED_OUT  # type: ignore[union-attr]
    runner_error = classify(pod("Failed", done(2)), False)
    assert runner_error is not None and runner_error.phase is Phase.ERROR and not runner_error.retryable


def test_killed_pods_are_retryable_errors_unless_cancelled() -> None:
    deleted = classify(pod("Failed", done(4), deleting=True), False)
    assert deleted is not None and deleted.phase is Phase.ERROR and deleted.retryable
    assert classify(pod("Failed", done(4), deleting=True), True).phase is Phase.CANCELLED  # type: ignore[union-attr]
    oom = classify(pod("Failed", done(137, reason="OOMKilled")), False)
    assert oom is not None and oom.retryable and "memory" in oom.message
    gone = classify(pod("Running", {"running": {}}), False, deleted=True)
    assert gone is not None and gone.phase is Phase.ERROR and gone.retryable


def test_deadline_eviction_and_start_failures() -> None:
    assert classify(pod("Failed", done(137), reason="DeadlineExceeded"), False).phase is Phase.TIMED_OUT  # type: ignore[union-attr]
    evicted = classify(pod("Failed", None, reason="Evicted", message="disk"), False)
    assert evicted is not None and evicted.retryable and evicted.reason == "Evicted"
    pull = classify(pod("Pending", {"waiting": {"reason": "ImagePullBackOff", "message": "no"}}), False)
    assert pull is not None and pull.phase is Phase.ERROR and "ImagePullBackOff" in pull.message


def test_running_and_pending() -> None:
    running = classify(pod("Running", {"running": {"startedAt": "x"}}), False)
    assert running is not None and running.phase is Phase.RUNNING and not running.finished
    assert classify(pod("Pending", {"waiting": {"reason": "ContainerCreating"}}), False) is None


def test_run_ref_from_labels_and_owner() -> None:
    p = pod("Running")
    p["metadata"]["labels"] = {"supertest.dev/run": "r", "supertest.dev/kind": "job"}
    p["metadata"]["ownerReferences"] = [{"uid": "u1", "controller": True}]
    ref = run_ref_of(p)
    assert ref is not None and ref.resource.plural == "jobruns" and ref.uid == "u1" and ref.name == "r"
    assert run_ref_of(pod("Running")) is None


def test_the_termination_message_carries_the_verdict() -> None:
    verdict = Verdict(
        phase=Phase.FAILED,
        exit_code=1,
        message="1 failed, 2 passed",
        summary=Summary(total=3, passed=2, failed=1),
        report_key="runs/r/report/index.html",
        failures=[FailedTest(test="a > b", error="Error: boom")],
    )
    failed = classify(pod("Failed", done(1, message=encode(verdict))), False)
    assert failed is not None and failed.phase is Phase.FAILED and failed.message == "1 failed, 2 passed"
    assert failed.verdict == verdict
    # A log tail (FallbackToLogsOnError) or a message from another exit is not a verdict; the exit code still rules.
    crashed = classify(pod("Failed", done(2, message="Traceback (most recent call last):")), False)
    assert crashed is not None and crashed.verdict is None and crashed.phase is Phase.ERROR
    mismatched = classify(pod("Failed", done(0, message=encode(verdict))), False)
    assert mismatched is not None and mismatched.phase is Phase.PASSED and mismatched.verdict is None


def test_an_upload_outage_is_a_retryable_error() -> None:
    verdict = Verdict(phase=Phase.ERROR, exit_code=5, reason=VerdictReason.UPLOAD_FAILED, message="upload failed: x")
    outage = classify(pod("Failed", done(5, message=encode(verdict))), False)
    assert outage is not None and outage.phase is Phase.ERROR and outage.retryable
    assert outage.reason == "UploadFailed" and outage.message == "upload failed: x"
