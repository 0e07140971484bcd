"""Every watch event of a run (watches.py), dispatched: new -> queue it, spec.cancel -> cancel it, deleted ->
cancel it, the rerun annotation -> re-run its failed tests.

The bookkeeping (the run cache, the webhook's pending creations, wake-ups) happens inline, on every event; only the
events that call for API work start a task, and only on the leader. Everything here is idempotent and the reconcile
pass re-checks cancels and new runs (and a resync re-checks rerun requests), so nothing depends on seeing a
particular event.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import Any

from supertest.kube.names import ANNOTATION_RERUN, LABEL_TESTJOB
from supertest_operator.context import OperatorContext
from supertest_operator.handlers import admission, cancel, rerun, webhook
from supertest_operator.run import RunView


def dispatch(
    ctx: OperatorContext, gate: webhook.QueueGate, event_type: str | None, plural: str, body: Mapping[str, Any]
) -> None:
    meta = body.get("metadata") or {}
    if LABEL_TESTJOB in (meta.get("labels") or {}):
        ctx.schedule_wake.set()  # one of a TestJob's runs changed: its concurrency and history may have too

    def work(coro: Coroutine[Any, Any, None], what: str) -> None:
        if ctx.leader.is_leader:
            ctx.spawn(coro, name=f"{what}-{meta.get('name')}")
        else:
            coro.close()

    if event_type == "DELETED":
        ctx.runs.forget(body)
        view = RunView.from_body(body)
        if cancel.cancels_on_delete(view):
            work(cancel.on_delete(ctx, body), "deleted")
        return
    view = ctx.runs.observe(body) or RunView.from_body(body)
    if view.phase is None:
        webhook.forget_pending(gate, plural, meta.get("namespace", ""), meta.get("name", ""))
        if ctx.runs.problem(view.ref.key) or view.cancel_requested:
            work(admission.on_create(ctx, body), "new")
        else:
            ctx.wake.set()  # the next pass starts it or marks it Queued
    elif cancel.cancel_update(view) is not None:
        work(cancel.on_cancel(ctx, body), "cancel")
    if ANNOTATION_RERUN in (meta.get("annotations") or {}):
        work(rerun.on_rerun_annotation(ctx, body), "rerun")
