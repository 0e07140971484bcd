"""Cancel: spec.cancel=true or deleting the run ends it as Cancelled and kills (deletes) its pod, or every pod of a
sharded run (its unfinished shards' pods and its merge pod)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from supertest.kube.client import core_path
from supertest.phases import Phase
from supertest_operator import shards
from supertest_operator.context import OperatorContext
from supertest_operator.db_mirror import run_row
from supertest_operator.run import RunView
from supertest_operator.status_writer import apply
from supertest_operator.transitions import Update

log = structlog.get_logger("supertest.operator.cancel")
DELETED_MESSAGE = "cancelled: the run was deleted"
CANCELLABLE = (None, Phase.QUEUED, Phase.STARTING, Phase.RUNNING)


def cancel_update(view: RunView) -> Update | None:
    if not view.cancel_requested:
        return None
    if view.phase in CANCELLABLE:
        message = "cancelled (spec.cancel)"
        fields: dict[str, Any] = {}
        if view.status.shards:
            fields["shards"] = shards.lines_field(shards.stop_lines(view.status.shards, Phase.CANCELLED, message))
        return Update(Phase.CANCELLED, "Cancelled", message, fields, warning=True)
    if view.phase is Phase.ERROR and view.status.retry_at:
        return Update(None, "RetryCancelled", "retry cancelled (spec.cancel)", {"retryAt": None}, warning=True)
    return None


async def cancel_run(ctx: OperatorContext, view: RunView) -> None:
    # The pods as they were before the cancel: the update marks the shard lines Cancelled.
    pods = shards.pods_to_stop(view.status.shards, view.status.pod_name)
    new = await apply(ctx, view.ref, cancel_update)
    if new is not None and new.status.pod_name and new.status.pod_name not in pods:
        pods.append(new.status.pod_name)
    await delete_pods(ctx, view.ref.namespace, pods)


async def delete_pods(ctx: OperatorContext, namespace: str, pods: list[str]) -> None:
    # The default grace period lets each runner stop Playwright and upload what it has.
    for pod in pods:
        await ctx.kube.delete(core_path("pods", namespace, pod))


async def on_cancel(ctx: OperatorContext, body: Mapping[str, Any]) -> None:
    view = RunView.from_body(body)
    if view.cancel_requested:
        await cancel_run(ctx, view)


def cancels_on_delete(view: RunView) -> bool:
    """Deleting a run that has not finished (or waits for a retry) cancels it."""
    return view.phase in CANCELLABLE or (view.phase is Phase.ERROR and bool(view.status.retry_at))


async def on_delete(ctx: OperatorContext, body: Mapping[str, Any]) -> None:
    """Deleting an unfinished run cancels it; the resource is going away, so the record is the DB row + Event."""
    view = RunView.from_body(body)
    if not cancels_on_delete(view):
        return
    await delete_pods(ctx, view.ref.namespace, shards.pods_to_stop(view.status.shards, view.status.pod_name))
    if ctx.db is not None:
        row = run_row(view)
        row.update(phase=Phase.CANCELLED.value, completed_at=datetime.now(UTC), message=DELETED_MESSAGE)
        ctx.db.submit(view.name, row)
    ctx.post_event(view.ref, "Cancelled", DELETED_MESSAGE, warning=True)
    ctx.wake.set()


async def sweep(ctx: OperatorContext, runs: list[RunView]) -> None:
    """Catch cancels the field handler has not handled (e.g. set while the operator was down)."""
    for view in runs:
        if cancel_update(view) is not None:
            await cancel_run(ctx, view)
