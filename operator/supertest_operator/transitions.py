"""The run's status as a function of (current status, requested update): phase, conditions, timestamps.

`status_patch` is pure; `apply` (in status_writer.py) does the optimistic-concurrency write around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from supertest.kube.models import Condition, format_time, human_duration, parse_time
from supertest.phases import TERMINAL_PHASES, Phase, can_transition
from supertest_operator.run import RunView

CONDITION_TYPES = ("Admitted", "Running", "Complete", "Failed")


@dataclass(frozen=True, slots=True)
class Update:
    """What a handler wants: a phase (None keeps it) plus extra status fields, with the Event's reason."""

    phase: Phase | None = None
    reason: str = ""
    message: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    warning: bool = False
    retry_at: datetime | None = None
    # False when the runner already put this phase on the run's Redis stream (no duplicate for SSE clients).
    publish: bool = True
    # False for the first Queued mark: its condition already says it, and a burst of thousands of runs posted as
    # many Events, each a write for the apiserver while it admits (kubectl describe shows Admitted, Retrying, ...).
    event: bool = True
    # When the decision was made, if not at the write: the runs one admission pass starts are admitted at the same
    # moment, whatever order their (concurrent) writes land in, so their startTimes keep the queue's order.
    decided_at: datetime | None = None


def allowed(current: Phase | None, target: Phase) -> bool:
    """A run without a phase has only just been created: it may become Queued, Error or Cancelled, or Starting when
    admission finds a free slot for it before it was ever marked Queued (one status write instead of two)."""
    if current is None:
        return target in (Phase.QUEUED, Phase.STARTING, Phase.ERROR, Phase.CANCELLED)
    return current == target or can_transition(current, target)


def _desired_conditions(phase: Phase, admitted: bool, reason: str, retry_pending: bool) -> dict[str, tuple[str, str]]:
    """type -> (status, reason). Terminal runs have exactly one of Complete/Failed True."""
    done = phase in TERMINAL_PHASES
    failed_status = "Unknown" if retry_pending else ("True" if done and phase is not Phase.PASSED else "False")
    return {
        "Admitted": ("True" if admitted else "False", "Admitted" if admitted else (reason or phase.value)),
        "Running": ("True" if phase is Phase.RUNNING else "False", reason or phase.value),
        "Complete": ("True" if phase is Phase.PASSED else "False", phase.value),
        "Failed": (failed_status, "RetryScheduled" if retry_pending else phase.value),
    }


def conditions(
    previous: list[Condition], phase: Phase, admitted: bool, reason: str, message: str, retry_pending: bool, now: str
) -> list[dict[str, str]]:
    """lastTransitionTime moves only when a condition's status changes, as Kubernetes conventions require."""
    before = {c.type: c for c in previous}
    out: list[dict[str, str]] = []
    for ctype, (status, why) in _desired_conditions(phase, admitted, reason, retry_pending).items():
        old = before.get(ctype)  # type: ignore[call-overload]
        changed = old is None or old.status != status
        out.append(
            {
                "type": ctype,
                "status": status,
                "reason": why,
                "message": message if changed or old is None else old.message,
                "lastTransitionTime": now if changed or old is None else old.last_transition_time,
            }
        )
    return out


def status_patch(view: RunView, update: Update, now: datetime) -> dict[str, Any]:
    """The status merge patch for `update` applied to `view` (None values delete fields)."""
    stamp = format_time(now)
    current = view.status
    target = update.phase or current.phase or Phase.QUEUED
    patch: dict[str, Any] = dict(update.fields)
    patch["observedGeneration"] = view.generation
    if update.message is not None:
        patch["message"] = update.message[:4096]
    if update.phase is not None and update.phase != current.phase:
        patch["phase"] = target.value
        if target is Phase.QUEUED:
            patch.setdefault("queuedAt", current.queued_at or stamp)
            patch["retryAt"] = None
        if target is Phase.STARTING and not current.start_time:
            patch.setdefault("startTime", stamp)
        if target in TERMINAL_PHASES:
            patch["completionTime"] = stamp
            start = parse_time(patch.get("startTime") or current.start_time)
            if start is not None:
                patch["duration"] = human_duration(max(0, int((now - start).total_seconds() * 1000)))
    if update.retry_at is not None:
        patch["retryAt"] = format_time(update.retry_at)
    attempts = int(patch.get("attempts", current.attempts))
    if "retryAt" in update.fields:
        retry_pending = update.fields["retryAt"] is not None
    elif update.retry_at is not None:
        retry_pending = True
    else:
        retry_pending = update.phase is None and bool(current.retry_at)
    retry_pending = retry_pending and target is Phase.ERROR
    if update.phase is not None or update.retry_at is not None or "retryAt" in update.fields:
        patch["conditions"] = conditions(
            current.conditions,
            target,
            # Per attempt: a requeued run is not admitted, so Admitted's lastTransitionTime marks each attempt's start.
            admitted=attempts > 0 and target is not Phase.QUEUED,
            reason=update.reason,
            message=update.message or "",
            retry_pending=retry_pending,
            now=stamp,
        )
    return patch
