"""Operator-side deadlines, the backstop behind the pod's activeDeadlineSeconds and the runner's own timer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from supertest.kube.client import core_path
from supertest.kube.models import parse_time
from supertest.phases import ACTIVE_PHASES, Phase
from supertest_operator import shards
from supertest_operator.cluster import Snapshot
from supertest_operator.context import OperatorContext
from supertest_operator.handlers.retries import error_update
from supertest_operator.run import RunView
from supertest_operator.settings import OperatorSettings
from supertest_operator.status_writer import apply
from supertest_operator.transitions import Update


def attempt_start(view: RunView, pod: dict[str, Any] | None) -> datetime | None:
    """When this attempt started: the pod's startTime, else its admission (Admitted turned True)."""
    started = parse_time(((pod or {}).get("status") or {}).get("startTime"))
    if started is not None:
        return started
    admitted = next((c for c in view.status.conditions if c.type == "Admitted" and c.status == "True"), None)
    return parse_time(admitted.last_transition_time) if admitted else None


def deadline(view: RunView, settings: OperatorSettings, pod: dict[str, Any] | None = None) -> datetime | None:
    """Attempt start + timeout + twice the grace: the runner (timeout) and the pod (timeout + grace) go first."""
    start = attempt_start(view, pod)
    if start is None:
        return None
    # The view may be the run cache's slim one (no script): read the one field instead of parsing the spec.
    timeout = view.timeout_seconds or settings.default_timeout_seconds
    return start + timedelta(seconds=timeout + 2 * settings.timeout_grace_seconds)


def start_deadline(view: RunView, settings: OperatorSettings) -> datetime | None:
    admitted = next((c for c in view.status.conditions if c.type == "Admitted"), None)
    since = parse_time(admitted.last_transition_time) if admitted else None
    return None if since is None else since + timedelta(seconds=settings.start_timeout_seconds)


def _unless_moved(update: Update, phase: Phase | None) -> Callable[[RunView], Update | None]:
    """Apply `update` only if the run is still in the phase the decision was made on. A sharded run's unfinished
    shard lines end with it (as read now, not when the decision was made)."""

    def decide(current: RunView) -> Update | None:
        if current.phase is not phase:
            return None
        if not current.status.shards or update.phase is not Phase.TIMED_OUT:
            return update
        lines = shards.stop_lines(current.status.shards, Phase.TIMED_OUT, update.message or "")
        return replace(update, fields={**update.fields, "shards": shards.lines_field(lines)})

    return decide


async def check(ctx: OperatorContext, snap: Snapshot) -> None:
    now = datetime.now(UTC)
    for view in snap.runs:
        if view.phase not in ACTIVE_PHASES or view.cancel_requested:
            continue
        try:
            limit = deadline(view, ctx.settings, snap.pod(view))
        except ValueError:
            continue
        # Every pod the run has: its own, or its unfinished shards' pods and its merge pod.
        pods = shards.pods_to_stop(view.status.shards, view.status.pod_name)
        if limit is not None and now > limit:
            update = Update(Phase.TIMED_OUT, "DeadlineExceeded", "the run exceeded its timeout", warning=True)
        elif (
            view.phase is Phase.STARTING
            # A sharded run is not retried whole (an Error would requeue it with its shard lines half admitted);
            # a shard pod that never starts is stopped by the run deadline instead.
            and not view.status.shards
            and (start := start_deadline(view, ctx.settings))
            and now > start
        ):
            message = f"the pod did not start within {ctx.settings.start_timeout_seconds}s"
            update = error_update(view, "PodStartTimeout", message, True, ctx.settings)
        else:
            continue
        new = await apply(ctx, view.ref, _unless_moved(update, view.phase))
        if new is not None and new.phase is not view.phase:
            for pod in pods:
                await ctx.kube.delete(core_path("pods", view.ref.namespace, pod))
