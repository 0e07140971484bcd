"""TTL after finish: delete the run; owner references make the garbage collector remove its pod and ConfigMap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog

from supertest.kube.client import run_path
from supertest.kube.models import parse_time
from supertest_operator.cluster import Snapshot
from supertest_operator.context import OperatorContext
from supertest_operator.run import RunView
from supertest_operator.settings import OperatorSettings

log = structlog.get_logger("supertest.operator.cleanup")


def ttl_seconds(view: RunView, settings: OperatorSettings) -> int | None:
    if view.phase is None or not view.phase.is_terminal or view.status.retry_at:
        return None  # not finished, or an Error waiting for its retry
    explicit = view.spec.get("ttlSecondsAfterFinished")
    return int(explicit) if explicit is not None else settings.ttl_for(view.phase.value)


def expires_at(view: RunView, settings: OperatorSettings) -> datetime | None:
    ttl = ttl_seconds(view, settings)
    finished = parse_time(view.status.completion_time)
    if ttl is None or finished is None:
        return None
    return finished + timedelta(seconds=ttl)


async def expire(ctx: OperatorContext, snap: Snapshot) -> None:
    """Every run, finished ones included: the reconcile loop calls this at most once per reconcile interval."""
    now = datetime.now(UTC)
    for view in snap.all_runs():
        at = expires_at(view, ctx.settings)
        if at is None or at > now or view.deleting:
            continue
        log.info("ttl_expired", run=view.name, namespace=view.ref.namespace, phase=view.phase)
        await ctx.kube.delete(run_path(view.ref.resource, view.ref.namespace, view.name), propagation="Background")
