"""Queue and admit: one pass at a time admits FIFO-with-priority up to capacity; what waits is marked Queued.

Capacity safety: every pass holds `ctx.admission_lock`, counts from fresh list calls, and stores
`Starting` (with the pod name) BEFORE creating the pod. A crash between the two leaves a Starting run
that still counts against capacity; the next pass creates its pod (same name, so never twice).

A new run is a candidate as soon as it exists, with or without its Queued mark: one that fits at once goes
straight to Starting (one status write). The Queued mark of the rest is written in the background, a few at a
time, after each pass: a burst of thousands of runs no longer puts thousands of status writes (and their watch
events) in front of the admissions.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pydantic import ValidationError

from supertest.admission import allot_executions
from supertest.kube.client import KubeError, core_path
from supertest.kube.models import JobRunSpec, TestRunSpec, format_time, parse_spec, parse_time
from supertest.phases import ACTIVE_PHASES, Phase
from supertest_operator import history, metrics, scripts
from supertest_operator.builders import (
    ScriptFile,
    build_configmap,
    build_pod,
    build_token_secret,
    child_name,
    spec_problem,
)
from supertest_operator.cluster import Snapshot
from supertest_operator.context import OperatorContext
from supertest_operator.handlers import shards
from supertest_operator.handlers.children import create_child as _create
from supertest_operator.handlers.children import delete_children
from supertest_operator.handlers.retries import error_update
from supertest_operator.run import RunView
from supertest_operator.run_cache import RunKey
from supertest_operator.settings import OperatorSettings
from supertest_operator.status_writer import apply, read_body
from supertest_operator.transitions import Update

log = structlog.get_logger("supertest.operator.admission")
# A Starting run without its pod for this long lost it to a crash (or a deletion we missed): create it again.
RECREATE_AFTER = timedelta(seconds=10)
# Queued marks written per background batch, and at once: few, so that they never crowd out admissions.
MARK_BATCH = 200
MARK_CONCURRENCY = 4


def plain(body: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(dict(body))


def _mark_new(problem: str | None) -> Callable[[RunView], Update | None]:
    def decide(current: RunView) -> Update | None:
        if current.phase is not None:
            return None  # already handled (admitted, or marked before an operator restart)
        if problem:
            return Update(Phase.ERROR, "InvalidSpec", problem, warning=True)
        if current.cancel_requested:
            return Update(Phase.CANCELLED, "Cancelled", "cancelled before admission", warning=True)
        return Update(Phase.QUEUED, "Queued", "waiting for a running slot", event=False)

    return decide


async def on_create(ctx: OperatorContext, body: Mapping[str, Any]) -> None:
    """A new run: an invalid or cancelled one ends now; a valid one is left to the next admission pass, which
    starts it or marks it Queued."""
    view = RunView.from_body(body)
    problem = spec_problem(view)
    if problem or view.cancel_requested:
        await apply(ctx, view.ref, _mark_new(problem), current=plain(body))
    else:
        ctx.wake.set()


def mark_queued(ctx: OperatorContext, taken: set[RunKey]) -> None:
    """Mark the first phase-less runs in admission order not admitted this pass as Queued, in the background (one
    batch at a time; the next pass hands over the next batch). Each is decided on the run cache's copy as it is
    when its turn comes (a run admitted meanwhile is skipped, not written with a stale version) and the spec check
    the cache made on the full body: no read per run."""
    if ctx.queue_marker is not None and not ctx.queue_marker.done():
        return
    batch = [(v, ctx.runs.problem(v.ref.key)) for v in ctx.runs.unmarked(MARK_BATCH, taken)]
    if batch:
        ctx.queue_marker = ctx.spawn(_mark_batch(ctx, batch), name="mark-queued")


async def _mark_batch(ctx: OperatorContext, batch: list[tuple[RunView, str | None]]) -> None:
    limit = asyncio.Semaphore(MARK_CONCURRENCY)

    async def one(view: RunView, problem: str | None) -> None:
        async with limit:
            now = ctx.runs.view(view.ref.key, view.ref.uid)
            if now is None or now.phase is not None:
                return  # gone, or admitted since the pass (a phase, once set, is never unset)
            try:
                await apply(ctx, view.ref, _mark_new(problem))
            except KubeError as exc:  # the next pass hands the run over again
                log.warning("mark_queued_failed", run=view.name, error=str(exc))

    await asyncio.gather(*(one(v, p) for v, p in batch))


def _invalid(message: str) -> Callable[[RunView], Update | None]:
    def decide(current: RunView) -> Update | None:
        if current.phase is not None and current.phase.is_terminal:
            return None
        return Update(Phase.ERROR, "InvalidSpec", message, warning=True)

    return decide


async def admission_pass(ctx: OperatorContext, snap: Snapshot) -> int:
    """Admit what fits; returns how many runs were admitted. Caller holds ctx.admission_lock."""
    active = snap.active_keys()
    capacity = ctx.settings.running_capacity
    metrics.RUNS_RUNNING.set(len(active))
    metrics.RUNS_QUEUED.set(ctx.runs.waiting_count() - sum(1 for key in active if ctx.runs.is_waiting(key)))
    used = snap.executions()
    free = max(0, capacity - used)
    # Every candidate takes at least one slot, so only the first `free` waiting runs in admission order can get
    # any: only those are read, from the cache's ordered queue (O(admitted), not O(queue)). Capacity counts
    # executions (pods): a sharded run needs one per shard, and one admitted in part is a candidate again for the
    # rest, at its original place in the queue.
    candidates = [
        *ctx.runs.queue_head(free, skip=active),
        *(v for v in snap.runs if v.phase in ACTIVE_PHASES and not v.cancel_requested and v.status.shards),
    ]
    wanted = [(v.queue_key(), executions_wanted(v), v) for v in candidates] if free else []
    by_key = {k.run_id: v for k, _, v in wanted}
    chosen = allot_executions([(k, n) for k, n, _ in wanted], used, capacity)
    # The runs of one pass are admitted at one moment: their writes land in no particular order (a sharded run's
    # first reads its whole body), and a startTime taken at each write would not keep the queue's order.
    decided_at = datetime.now(UTC)

    async def start(cached: RunView, slots: int) -> bool:
        if not (shards.requested(cached) > 1 or shards.is_sharded(cached)):
            return await admit(ctx, cached, None, decided_at)
        # Shard planning needs the run's files before its first write: read the whole run (the snapshot's view is
        # slim, no scripts), and decide on what it is now.
        body = await read_body(ctx, cached.ref)
        if body is None:
            return False
        view = RunView.from_body(body)
        if view.phase is None and shards.requested(view) > 1:
            return await _queue_then_shard(ctx, view, body, slots, decided_at)
        if shards.is_sharded(view):
            return await shards.admit(ctx, view, body, slots, decided_at)
        return await admit(ctx, view, body, decided_at)

    results = await asyncio.gather(
        *(start(by_key[c.run.run_id], c.executions) for c in chosen),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            log.error("admit_failed", error=repr(result))
    mark_queued(ctx, {by_key[c.run.run_id].ref.key for c in chosen})
    return sum(1 for r in results if r is True)


def executions_wanted(view: RunView) -> int:
    """Slots a candidate asks for: a phase-less run is planned like a Queued one (its shards, or one)."""
    if view.phase is None:
        return shards.requested(view)
    return shards.executions_needed(view) if shards.is_sharded(view) else 1


async def _queue_then_shard(
    ctx: OperatorContext, view: RunView, body: dict[str, Any], slots: int, decided_at: datetime
) -> bool:
    # Shard planning starts from a Queued run (its lines, its attempts): mark it first, then admit its shards.
    queued = await apply(ctx, view.ref, _mark_new(spec_problem(view)), current=body)
    if queued is None or queued.phase is not Phase.QUEUED:
        return False
    return await shards.admit(ctx, queued, None, slots, decided_at)


async def admit(ctx: OperatorContext, view: RunView, body: dict[str, Any] | None, decided_at: datetime) -> bool:
    """Start a run of one pod. Starting is stored first, decided on `body`, or when None on the run cache's copy
    as it is now (slim: no script): the write's answer is the whole run, from which its pod is built. No read
    before the write; a stale copy costs a conflict and a read in the status writer."""
    problem = ctx.runs.problem(view.ref.key) if view.phase is None else None  # checked on its whole spec
    if problem:
        await apply(ctx, view.ref, _invalid(problem), body)
        return False
    attempt = view.status.attempts + 1
    pod_name = child_name(view.name, attempt)

    def decide(current: RunView) -> Update | None:
        if current.phase not in (None, Phase.QUEUED) or current.cancel_requested or current.deleting:
            return None
        if current.status.attempts + 1 != attempt:
            return None
        message = f"admitted; starting pod {pod_name} (attempt {attempt} of {current.retries + 1})"
        fields: dict[str, Any] = {"podName": pod_name, "attempts": attempt}
        if current.phase is None:  # admitted before it was ever marked Queued: it was queued for no time
            fields["queuedAt"] = format_time(decided_at)
        return Update(Phase.STARTING, "Admitted", message, fields, decided_at=decided_at)

    new = await apply(ctx, view.ref, decide, body)
    if new is None or new.phase is not Phase.STARTING or new.status.pod_name != pod_name:
        return False
    try:
        spec = parse_spec(view.ref.resource.run_kind, dict(new.spec))
        files = await scripts.resolve(spec, ctx.sessions, ctx.kube, view.ref.namespace)
    except (ValidationError, scripts.ScriptsUnavailable) as exc:  # a jobRef or stored test that is not there
        await apply(ctx, view.ref, _invalid(str(exc)))
        return False
    metrics.RUNS_ADMITTED.inc()
    await create_children(ctx, new, spec, files, attempt)
    metrics.ADMISSION_LATENCY.observe(max(0.0, (datetime.now(UTC) - view.created).total_seconds()))
    return True


async def create_children(
    ctx: OperatorContext, view: RunView, spec: TestRunSpec | JobRunSpec, files: list[ScriptFile], attempt: int
) -> None:
    """Create (or find) the token Secret and the script ConfigMap, then the pod; 409 means a previous try already
    did. The pod comes last: it never exists without what it mounts. An operator killed before the pod leaves a
    Starting run without one, which `recover_starting` creates; a pod created first and left waiting for its
    ConfigMap would have waited for ever (until its deadline: the operator-killed fault test saw it)."""
    ns = view.ref.namespace
    pod = build_pod(view.ref, spec, files, attempt, ctx.settings, quarantined=await history.quarantined_ids(ctx))
    mounts: dict[str, Awaitable[None]] = {}
    if ctx.settings.ingest_url:
        token = build_token_secret(view.ref, spec, attempt, ctx.settings, datetime.now(UTC))
        mounts["token Secret"] = _create(ctx, core_path("secrets", ns), token)
    configmap = build_configmap(view.ref, files)
    if configmap is not None:
        mounts["script ConfigMap"] = _create(ctx, core_path("configmaps", ns), configmap)
    outcomes = dict(zip(mounts, await asyncio.gather(*mounts.values(), return_exceptions=True), strict=True))
    for outcome in outcomes.values():
        if isinstance(outcome, BaseException) and not isinstance(outcome, KubeError):
            raise outcome
    refused = [(what, o) for what, o in outcomes.items() if isinstance(o, KubeError)]
    if not refused:
        try:
            await _create(ctx, core_path("pods", ns), pod)
        except KubeError as refusal:
            refused = [("pod", refusal)]
        else:
            ctx.created_pods.add((ns, pod["metadata"]["name"]))
            return
    what, error = refused[-1]  # the ConfigMap's refusal, when both were refused: it is the likelier cause
    message, status = f"Kubernetes refused the run's {what} ({error.status}): {error.message}", error.status
    new = await apply(ctx, view.ref, lambda v: _creation_failed(ctx, v, message, status))
    if new is not None and new.phase is Phase.ERROR:
        # Its token and ConfigMap, if made (no ConfigMap was asked for when its scripts travel in the pod); there is
        # no pod. The status write above has already woken the loop for the freed slot.
        await delete_children(ctx, view.ref, pod["metadata"]["name"], pod=False, configmap=configmap is not None)


def vanished(settings: OperatorSettings, pod_name: str | None) -> Callable[[RunView], Update | None]:
    """A Starting run whose pod (created by this process) is gone: Error, retried if allowed."""

    def decide(current: RunView) -> Update | None:
        if current.phase is not Phase.STARTING or current.status.pod_name != pod_name:
            return None  # its DELETED event (or anything else) got there first
        return error_update(current, "PodVanished", f"pod {pod_name} disappeared", True, settings)

    return decide


def _creation_failed(ctx: OperatorContext, view: RunView, message: str, status: int) -> Update | None:
    if view.phase is not Phase.STARTING:
        return None
    # 4xx other than throttling/quota is a spec the apiserver refuses: retrying the same pod cannot help.
    retryable = status >= 500 or status in (403, 429)
    return error_update(view, "PodCreateFailed", message, retryable, ctx.settings)


async def recover_starting(ctx: OperatorContext, snap: Snapshot) -> None:
    """Starting runs whose pod never appeared (operator crashed mid-admission): create it now. A pod this process
    created and that is gone was deleted: the run ends in Error (retried if allowed), like a Running run's."""
    now = datetime.now(UTC)
    held = {(v.ref.namespace, v.status.pod_name) for v in snap.runs if v.phase in ACTIVE_PHASES and v.status.pod_name}
    ctx.created_pods &= held  # pods of runs still active; admissions after this snapshot add theirs
    for view in snap.runs:
        if view.phase is not Phase.STARTING or view.cancel_requested or snap.has_pod(view):
            continue
        if view.status.shards:
            continue  # a sharded run's shard pods are created from its status lines, not from podName
        admitted = next((c for c in view.status.conditions if c.type == "Admitted"), None)
        since = parse_time(admitted.last_transition_time) if admitted else None
        if since is None or now - since < RECREATE_AFTER:
            continue
        if (view.ref.namespace, view.status.pod_name) in ctx.created_pods:
            await apply(ctx, view.ref, vanished(ctx.settings, view.status.pod_name))
            continue
        body = await read_body(ctx, view.ref)  # the snapshot's view is slim: its spec has no script
        if body is None:
            continue
        try:
            spec = parse_spec(view.ref.resource.run_kind, dict(body.get("spec") or {}))
            files = await scripts.resolve(spec, ctx.sessions, ctx.kube, view.ref.namespace)
        except (ValidationError, scripts.ScriptsUnavailable) as exc:
            await apply(ctx, view.ref, _invalid(str(exc)))
            continue
        log.warning("recreating_missing_pod", run=view.name, pod=view.status.pod_name)
        await create_children(ctx, view, spec, files, view.status.attempts)
