"""Pods and ConfigMaps labelled supertest.dev/run whose owning run is gone are deleted; unfinished
Postgres rows whose run is gone are closed: Cancelled if it was deleted, Error if it was never created; and a
finished run whose row is behind (or missing) is mirrored again.

The garbage collector normally does this through owner references; this sweep covers children that lost
them (hand-made, or a cluster without the GC) and runs under the admission lock so a pod created for a
brand-new run is never mistaken for an orphan.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supertest.db.engine import session_scope
from supertest.db.models import RunRecord
from supertest.kube.client import core_path
from supertest.kube.names import LABEL_RUN
from supertest.phases import Phase
from supertest_operator import metrics
from supertest_operator.cluster import core_list_path, take_snapshot
from supertest_operator.context import OperatorContext
from supertest_operator.db_mirror import run_row
from supertest_operator.handlers.cancel import DELETED_MESSAGE
from supertest_operator.run import RunView
from supertest_operator.status_writer import read_body

log = structlog.get_logger("supertest.operator.orphans")
NEVER_CREATED_MESSAGE = "the run was never created in the cluster (the API stopped after saving it); nothing ran"


def is_orphan(child: dict[str, Any], live_uids: set[str]) -> bool:
    owners = (child.get("metadata") or {}).get("ownerReferences") or []
    return not any(o.get("uid") in live_uids for o in owners)


async def sweep(ctx: OperatorContext) -> int:
    scopes: list[str | None] = list(ctx.settings.namespace_list) or [None]
    removed = 0
    async with ctx.admission_lock:
        # The run cache once it has been listed in full: children are only created for runs it holds (admission
        # reads it), so it knows every owner; listing a deep queue in full here held up admissions for a second.
        if ctx.runs.synced:
            runs = ctx.runs.views()
        else:
            runs = (await take_snapshot(ctx.kube, ctx.settings.namespace_list)).runs
        live = {v.ref.uid for v in runs}
        for plural, kind in (("pods", "pod"), ("configmaps", "configmap")):
            for ns in scopes:
                for child in await ctx.kube.list(core_list_path(plural, ns), LABEL_RUN):
                    if not is_orphan(child, live):
                        continue
                    meta = child["metadata"]
                    log.info("orphan_deleted", kind=kind, name=meta["name"], namespace=meta["namespace"])
                    await ctx.kube.delete(core_path(plural, meta["namespace"], meta["name"]))
                    metrics.ORPHANS_DELETED.labels(kind=kind).inc()
                    removed += 1
    if ctx.sessions is not None:
        live_runs = {(v.ref.namespace, v.name) for v in runs}
        sessions, namespaces = ctx.sessions, ctx.settings.namespace_list
        grace = timedelta(seconds=ctx.settings.orphan_row_grace_seconds)
        removed += await asyncio.to_thread(repair_vanished_rows, sessions, namespaces, live_runs, grace)
        finished = {v.name: v for v in runs if v.phase is not None and v.phase.is_terminal}
        rows = await asyncio.to_thread(row_phases, sessions, list(finished))
        for name in rows_behind({n: v.phase.value for n, v in finished.items() if v.phase is not None}, rows):
            # The operator was killed between writing the verdict to the cluster and its mirror's flush: the status
            # will not change again, so nothing else would ever bring the row up to date.
            if ctx.db is not None:
                log.info("row_behind_mirrored", run=name, row=rows.get(name), resource=finished[name].phase)
                # The whole run: a cached view has neither the script nor a finished run's results.
                body = await read_body(ctx, finished[name].ref)
                if body is not None:
                    ctx.db.submit(name, run_row(RunView.from_body(body), include_spec=name not in rows))
    return removed


def rows_behind(finished: dict[str, str], rows: dict[str, str]) -> list[str]:
    """Finished runs (name -> phase) whose row is missing or says another phase."""
    return sorted(name for name, phase in finished.items() if rows.get(name) != phase)


def row_phases(sessions: sessionmaker[Session], run_ids: list[str], chunk: int = 500) -> dict[str, str]:
    found: dict[str, str] = {}
    with session_scope(sessions) as session:
        for start in range(0, len(run_ids), chunk):
            part = run_ids[start : start + chunk]
            for run_id, phase in session.execute(select(RunRecord.id, RunRecord.phase).where(RunRecord.id.in_(part))):
                found[run_id] = phase
    return found


def repair_vanished_rows(
    sessions: sessionmaker[Session],
    namespaces: list[str],
    live: set[tuple[str, str]],
    grace: timedelta,
    now: datetime | None = None,
) -> int:
    """Unfinished rows whose resource is missing, once older than `grace`, are closed.

    A row with a Kubernetes uid had a resource, deleted while the operator was down: Cancelled. A row without one
    never had its resource created (the API stopped between its insert and its create): Error, nothing ran.
    Younger rows are left alone: the API inserts its row just before it creates the resource.
    """
    now = now or datetime.now(UTC)
    unfinished = [Phase.QUEUED.value, Phase.STARTING.value, Phase.RUNNING.value]
    with session_scope(sessions) as session:
        query = select(RunRecord).where(
            RunRecord.phase.in_(unfinished), RunRecord.created_at < now - grace, RunRecord.namespace.is_not(None)
        )
        if namespaces:
            query = query.where(RunRecord.namespace.in_(namespaces))
        count = 0
        for row in session.scalars(query):
            if (row.namespace, row.id) in live:
                continue
            if row.k8s_uid:
                row.phase, row.message = Phase.CANCELLED.value, DELETED_MESSAGE
            else:
                row.phase, row.message = Phase.ERROR.value, NEVER_CREATED_MESSAGE
            row.completed_at = now
            log.info("vanished_run_closed", run=row.id, namespace=row.namespace, phase=row.phase)
            count += 1
        return count
