"""The single writer of run status: read, decide, merge-patch with a resourceVersion precondition, retry on 409.

Every transition then posts an Event, mirrors the row into Postgres and updates the metrics, so those
three can never disagree with the status about what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from supertest.bus import publish_or_warn
from supertest.events import status_event
from supertest.kube.client import KubeError, run_path
from supertest_operator import metrics
from supertest_operator.context import OperatorContext
from supertest_operator.db_mirror import run_row
from supertest_operator.run import RunRef, RunView
from supertest_operator.transitions import Update, allowed, status_patch

log = structlog.get_logger("supertest.operator.status")
Decide = Callable[[RunView], Update | None]
MAX_CONFLICT_RETRIES = 8


async def read_body(ctx: OperatorContext, ref: RunRef) -> dict[str, Any] | None:
    """The run's whole body as stored now; None if it is gone (or is a new object of the same name: not ours)."""
    try:
        body = await ctx.kube.get(run_path(ref.resource, ref.namespace, ref.name))
    except KubeError as exc:
        if exc.not_found:
            return None
        raise
    uid = (body.get("metadata") or {}).get("uid")
    return None if ref.uid and uid != ref.uid else body


async def read_run(ctx: OperatorContext, ref: RunRef) -> RunView | None:
    body = await read_body(ctx, ref)
    return None if body is None else RunView.from_body(body)


def settled(view: RunView) -> bool:
    """A finished run with no retry pending never changes phase again, and only this operator writes a run's
    status (the cache holds its own writes): nothing a fresh read could show would change a decision on it. The
    late events of its pod (a deleted pod's DELETED after its MODIFIED) then cost no read."""
    return view.phase is not None and view.phase.is_terminal and not view.status.retry_at


async def apply(
    ctx: OperatorContext, ref: RunRef, decide: Decide, current: dict[str, Any] | None = None
) -> RunView | None:
    """Apply `decide(view)` to the run; None when the run is gone. `current` skips the first read.

    Without `current`, the first decision is made on the run cache's view, no read: a write made on it carries
    its resourceVersion, so a stale view costs a conflict and a read, never a wrong write; a decision to do
    nothing is only trusted once made on a fresh read, unless the cached run has settled (see `settled`)."""
    async with ctx.run_lock(ref.key):
        cached = ctx.runs.view(ref.key, ref.uid) if current is None else None
        fresh = cached is None
        view = RunView.from_body(current) if current is not None else cached or await read_run(ctx, ref)
        for _ in range(MAX_CONFLICT_RETRIES):
            if view is None:
                return None
            update = decide(view)
            refused = update is not None and update.phase is not None and not allowed(view.phase, update.phase)
            if (update is None or refused) and not fresh and not settled(view):
                view, fresh = await read_run(ctx, ref), True
                continue
            if update is None:
                return view
            if refused:
                log.info("transition_refused", run=ref.name, current=view.phase, target=update.phase)
                return view
            patch = {
                "metadata": {"resourceVersion": view.resource_version},
                "status": status_patch(view, update, update.decided_at or datetime.now(UTC)),
            }
            try:
                body = await ctx.kube.merge_patch(run_path(ref.resource, ref.namespace, ref.name, "status"), patch)
            except KubeError as exc:
                if exc.not_found:
                    return None
                if not exc.conflict:
                    raise
                view, fresh = await read_run(ctx, ref), True  # someone else wrote first: decide again on fresh data
                continue
            ctx.runs.observe(body)  # the pass's cache sees our write before the admission lock is released
            new = RunView.from_body(body)
            _after(ctx, view, new, update)
            return new
        raise RuntimeError(f"run {ref.name}: status kept conflicting after {MAX_CONFLICT_RETRIES} attempts")


def _after(ctx: OperatorContext, old: RunView, new: RunView, update: Update) -> None:
    if ctx.db is not None:
        ctx.db.submit(new.name, run_row(new, include_spec=old.phase is None))
    changed = new.phase != old.phase
    if changed and new.phase is not None:
        metrics.RUN_PHASE.labels(phase=new.phase.value).inc()
        message = update.message or new.status.message or new.phase.value
        reason = update.reason or new.phase.value
        log.info("run_transition", run=new.name, namespace=new.ref.namespace, phase=new.phase.value, reason=reason)
        if update.event:
            ctx.post_event(new.ref, reason, message, update.warning)
        if ctx.bus is not None and update.publish:
            # SSE clients follow the Redis stream: Queued/Starting and operator-decided endings come from here.
            event = status_event(new.name, new.phase, message)
            ctx.spawn(publish_or_warn(ctx.bus, event), name=f"publish-{new.name}")
    elif update.retry_at is not None:
        ctx.post_event(new.ref, "RetryScheduled", update.message or "", True)
    if changed:
        ctx.wake.set()  # a slot may have freed, or a run joined the queue
