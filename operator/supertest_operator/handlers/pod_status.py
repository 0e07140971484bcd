"""Run phase from its pod: Running when the container runs; at the end, the pod status alone decides.

Exit codes come from the runner (0 Passed, 1 Failed, 2 Error, 3 TimedOut, 4 Cancelled, 5 upload failed); its
verdict (summary, report, failed tests) is the container's termination message (supertest/verdict.py), so a
result never depends on Redis. A pod killed from outside (deleted, evicted, OOM, never started) and a run whose
artifacts could not be stored are infrastructure Errors, retried under spec.retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from supertest.artifacts import report_url
from supertest.kube.names import LABEL_KIND, LABEL_RUN, resource_for_kind
from supertest.phases import ACTIVE_PHASES, ExitCode, Phase, phase_for_exit_code
from supertest.verdict import Verdict, decode
from supertest_operator.context import OperatorContext
from supertest_operator.handlers.children import delete_children
from supertest_operator.handlers.retries import error_update
from supertest_operator.run import RunRef, RunView
from supertest_operator.status_writer import apply
from supertest_operator.transitions import Update

log = structlog.get_logger("supertest.operator.pods")

# Waiting reasons that mean the container will not start without someone changing something.
START_FAILURES = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "StartError",
        "RunContainerError",
    }
)


@dataclass(frozen=True, slots=True)
class PodOutcome:
    phase: Phase
    reason: str
    message: str
    retryable: bool = False
    finished: bool = True  # False: Running
    verdict: Verdict | None = None  # what the runner wrote as its termination message, if it got that far


def _container(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return statuses[0] if statuses else {}


def classify(pod: Mapping[str, Any], cancel_requested: bool, deleted: bool = False) -> PodOutcome | None:
    """What the pod says about its run (pure); None while there is nothing new to say."""
    status = pod.get("status") or {}
    pod_phase = status.get("phase")
    container = _container(pod)
    state = container.get("state") or {}
    terminated = state.get("terminated")
    killed = deleted or bool((pod.get("metadata") or {}).get("deletionTimestamp"))

    if status.get("reason") == "DeadlineExceeded":
        return PodOutcome(Phase.TIMED_OUT, "DeadlineExceeded", "the run exceeded its deadline (activeDeadlineSeconds)")
    if status.get("reason") == "Evicted":
        return PodOutcome(Phase.ERROR, "Evicted", f"the pod was evicted: {status.get('message', '')}", retryable=True)
    if terminated is not None and pod_phase in ("Succeeded", "Failed", "Running", None):
        code = int(terminated.get("exitCode", -1))
        verdict = decode(terminated.get("message"))
        if verdict is not None and verdict.exit_code != code:
            verdict = None  # a message that does not match the exit is not this process's verdict
        said = verdict.message if verdict is not None and verdict.message else None
        if cancel_requested:
            return PodOutcome(Phase.CANCELLED, "Cancelled", "cancelled (spec.cancel)", verdict=verdict)
        if code in (ExitCode.PASSED, ExitCode.FAILED, ExitCode.TIMED_OUT):
            phase = phase_for_exit_code(code)
            return PodOutcome(phase, phase.value, said or f"runner exited with code {code}", verdict=verdict)
        if code == ExitCode.UPLOAD_FAILED and not killed:
            why = said or "the runner could not store the run's artifacts (exit code 5)"
            return PodOutcome(Phase.ERROR, "UploadFailed", why, retryable=True, verdict=verdict)
        if code == ExitCode.ERROR and not killed:
            why = said or "the runner could not run the tests (exit code 2)"
            return PodOutcome(Phase.ERROR, "RunnerError", why, verdict=verdict)
        why = "the pod was deleted while it ran" if killed else f"the runner was killed (exit code {code})"
        if terminated.get("reason") == "OOMKilled":
            why = "the runner ran out of memory (OOMKilled)"
        return PodOutcome(Phase.ERROR, "PodFailed", why, retryable=True)
    if killed:
        if cancel_requested:
            return PodOutcome(Phase.CANCELLED, "Cancelled", "cancelled (spec.cancel)")
        return PodOutcome(Phase.ERROR, "PodDeleted", "the pod was deleted before the run finished", retryable=True)
    waiting = state.get("waiting") or {}
    if waiting.get("reason") in START_FAILURES:
        message = f"the pod failed to start: {waiting.get('reason')}: {waiting.get('message', '')}".rstrip(": ")
        return PodOutcome(Phase.ERROR, "PodStartFailed", message, retryable=True)
    if pod_phase == "Running" and state.get("running") is not None:
        return PodOutcome(Phase.RUNNING, "PodRunning", "the runner is running", finished=False)
    if pod_phase in ("Succeeded", "Failed"):  # finished without a container status: nothing ran
        return PodOutcome(Phase.ERROR, "PodFailed", f"the pod ended {pod_phase} without a result", retryable=True)
    return None


def verdict_fields(run_name: str, verdict: Verdict) -> dict[str, Any]:
    """The run's status fields the verdict fills: summary, report URL (only when the report was stored), failures."""
    fields: dict[str, Any] = {
        "summary": verdict.summary.model_dump(by_alias=True),
        "failures": verdict.failure_dicts(),
    }
    if verdict.report_key:
        fields["reportURL"] = report_url(run_name)
    return fields


def run_ref_of(pod: Mapping[str, Any]) -> RunRef | None:
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    name, kind = labels.get(LABEL_RUN), labels.get(LABEL_KIND)
    if not name or not kind:
        return None
    owner: dict[str, Any] = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), {})
    return RunRef(resource_for_kind(kind), meta.get("namespace", ""), name, owner.get("uid", ""))


async def on_pod_event(ctx: OperatorContext, event_type: str | None, pod: Mapping[str, Any]) -> None:
    ref = run_ref_of(pod)
    if ref is None:
        return
    deleted = event_type == "DELETED"
    pod_name = (pod.get("metadata") or {}).get("name")
    if deleted or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        ctx.wake.set()  # a slot may be free now

    # Only the newest attempt's pod speaks for the run.
    if classify(pod, cancel_requested=False, deleted=deleted) is None:
        return

    def decide(view: RunView) -> Update | None:
        if view.status.pod_name != pod_name or view.phase not in ACTIVE_PHASES:
            return None
        outcome = classify(pod, view.cancel_requested, deleted)
        if outcome is None:
            return None
        if not outcome.finished:
            if view.phase is not Phase.STARTING:
                return None
            return Update(Phase.RUNNING, outcome.reason, outcome.message, publish=False)  # the runner says it
        verdict = outcome.verdict
        fields = verdict_fields(ref.name, verdict) if verdict is not None else {}
        said = verdict is not None and verdict.phase is outcome.phase  # the runner published this phase itself
        if outcome.phase is Phase.ERROR:
            update = error_update(view, outcome.reason, outcome.message, outcome.retryable, ctx.settings)
            return Update(update.phase, update.reason, update.message, fields, True, update.retry_at, not said)
        warning = outcome.phase is not Phase.PASSED
        return Update(outcome.phase, outcome.reason, outcome.message, fields, warning=warning, publish=not said)

    new = await apply(ctx, ref, decide)
    # A pod already being deleted (PodDeleted) is going by itself: no second DELETE. Its script ConfigMap stays
    # for a retry (same name) or until the run's TTL (owner reference), like a finished run's.
    being_deleted = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    never_ran = not deleted and not being_deleted and (pod.get("status") or {}).get("phase") == "Pending"
    # PodStartFailed: nothing to keep for `kubectl logs`, and the Pending pod would otherwise wait for ever.
    if never_ran and pod_name and new is not None and new.phase is Phase.ERROR and new.status.pod_name == pod_name:
        await delete_children(ctx, ref, pod_name)


async def sweep_vanished(ctx: OperatorContext, snap: Any) -> None:
    """A Running run whose pod is gone (deleted while the operator was away): Error, retried if allowed."""
    for view in snap.runs:
        if view.phase is not Phase.RUNNING or snap.has_pod(view) or view.cancel_requested:
            continue
        if view.status.shards and not view.status.pod_name:
            continue  # a sharded run before its merge: its pods are the shard lines' (handlers/shards.py)
        pod_name = view.status.pod_name

        def decide(current: RunView, pod_name: str | None = pod_name) -> Update | None:
            if current.phase is not Phase.RUNNING or current.status.pod_name != pod_name:
                return None
            return error_update(current, "PodVanished", f"pod {pod_name} disappeared", True, ctx.settings)

        await apply(ctx, view.ref, decide)
