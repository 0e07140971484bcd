"""Sharded runs (spec.shards > 1) in Kubernetes: one pod per shard, each one execution against RUNNING_CAPACITY,
then one merge pod that writes the run's report and results.json and speaks for the run like an unsharded pod.

The policy is pure (supertest_operator/shards.py, supertest/sharding.py); this module only reads, writes status
through the single writer and creates pods. The merge pod is the run's `status.podName`, so its outcome goes
through the ordinary pod handler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import ValidationError

from supertest.kube.client import core_path
from supertest.kube.models import JobRunSpec, ShardStatus, TestRunSpec, parse_spec
from supertest.kube.names import LABEL_SHARD
from supertest.phases import ACTIVE_PHASES, Phase
from supertest.sharding import ShardPlan, plan_shards, shard_count
from supertest_operator import history, scripts, shards
from supertest_operator.builders import (
    ScriptFile,
    ShardRole,
    build_configmap,
    build_pod,
    build_token_secret,
    shard_pod_name,
)
from supertest_operator.context import OperatorContext
from supertest_operator.handlers.children import create_child
from supertest_operator.handlers.pod_status import classify
from supertest_operator.run import RunRef, RunView
from supertest_operator.status_writer import apply
from supertest_operator.transitions import Update

log = structlog.get_logger("supertest.operator.shards")


def requested(view: RunView) -> int:
    """Shards this run asks for, capped by its inline tests (a jobRef's count is known at admission)."""
    raw = view.spec.get("shards") or 1
    tests = view.spec.get("tests")
    files = len(tests) if isinstance(tests, list) else (1 if view.ref.resource.run_kind == "test" else int(raw))
    return shard_count(int(raw), files)


def is_sharded(view: RunView) -> bool:
    return bool(view.status.shards) or (view.phase is Phase.QUEUED and requested(view) > 1)


def executions_needed(view: RunView) -> int:
    """What admission must still start for this run (shard pods count, not runs)."""
    if view.status.shards:
        return shards.executions_needed(view.status.shards)
    return requested(view) if view.phase is Phase.QUEUED else 0


def _template(run_name: str) -> str:
    return f"{run_name}-s{{index}}-a{{attempt}}"


def _fields(lines: Sequence[ShardStatus]) -> dict[str, Any]:
    return {
        "shards": shards.lines_field(lines),
        "shardsDone": shards.shards_done(lines),
        "summary": shards.running_summary(lines).model_dump(by_alias=True),
    }


async def admit(
    ctx: OperatorContext, view: RunView, body: dict[str, Any] | None, slots: int, decided_at: datetime
) -> bool:
    """Admit `slots` shards: the first ones of a Queued run (planned now), or more of a run admitted in part."""
    try:
        spec = parse_spec(view.ref.resource.run_kind, dict(view.spec))
        files = await scripts.resolve(spec, ctx.sessions, ctx.kube, view.ref.namespace)
    except (ValidationError, scripts.ScriptsUnavailable) as exc:
        log.warning("shard_admit_failed", run=view.name, error=str(exc))
        return False
    fresh = not view.status.shards
    # Past durations balance the plan (longest first); files never seen before are spread round-robin.
    durations = await history.file_durations(ctx, [f.file_name for f in files]) if fresh else {}

    def decide(current: RunView) -> Update | None:
        if current.cancel_requested or current.deleting:
            return None
        if fresh:
            if current.phase is not Phase.QUEUED or current.status.shards:
                return None
            names = [f.file_name for f in files]
            plan = plan_shards(names, spec.shards, durations)
            lines = shards.admit(shards.initial_lines(plan), slots, _template(current.name))
            message = f"admitted; {len(lines)} shards, starting {slots}"
            fields = {**_fields(lines), "attempts": 1}
            return Update(Phase.STARTING, "Admitted", message, fields, decided_at=decided_at)
        if current.phase not in ACTIVE_PHASES or not current.status.shards:
            return None
        lines = shards.admit(current.status.shards, slots, _template(current.name))
        return Update(None, "ShardsAdmitted", f"starting {slots} more shard(s)", _fields(lines))

    new = await apply(ctx, view.ref, decide, body)
    if new is None or not new.status.shards:
        return False
    await create_shard_pods(ctx, new, spec, files)
    return True


async def create_shard_pods(
    ctx: OperatorContext, view: RunView, spec: TestRunSpec | JobRunSpec, files: list[ScriptFile]
) -> None:
    """Pods for the Starting shard lines (409: already there). The ConfigMap is the run's, shared; a token per
    attempt number, as the pods' env names it."""
    lines = view.status.shards or []
    total = len(lines)
    ns = view.ref.namespace
    configmap = build_configmap(view.ref, files)
    if configmap is not None:
        await create_child(ctx, core_path("configmaps", ns), configmap)
    starting = [line for line in lines if line.phase is Phase.STARTING and line.pod_name]
    quarantined = await history.quarantined_ids(ctx) if starting else []
    for line in starting:
        role = ShardRole(total, ShardPlan(line.index, tuple(line.files), 0.0))
        if ctx.settings.ingest_url:
            # Minted now, not at the run's admission: a shard admitted late (capacity) needs its full lifetime.
            token = build_token_secret(view.ref, spec, line.attempts, ctx.settings, datetime.now(UTC), role)
            await create_child(ctx, core_path("secrets", ns), token)
        pod = build_pod(view.ref, spec, files, line.attempts, ctx.settings, quarantined=quarantined, shard=role)
        await create_child(ctx, core_path("pods", ns), pod)


def shard_label(pod: Mapping[str, Any]) -> str | None:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(LABEL_SHARD)


async def on_shard_pod(ctx: OperatorContext, ref: RunRef, pod: Mapping[str, Any], deleted: bool) -> None:
    """A shard pod's news on its status line; then wait, merge (create the merge pod) or finish the run."""
    pod_name = (pod.get("metadata") or {}).get("name", "")
    if classify(pod, cancel_requested=False, deleted=deleted) is None:
        return
    merge_pod: list[str] = []

    def decide(view: RunView) -> Update | None:
        lines = view.status.shards
        if not lines or view.phase not in ACTIVE_PHASES or view.status.pod_name:
            return None  # not sharded, finished, or already merging
        line = next((x for x in lines if x.pod_name == pod_name), None)
        if line is None or line.phase not in shards.HOLDING:
            return None  # ended, or Queued again (a late event of its lost attempt's pod)
        outcome = classify(pod, view.cancel_requested, deleted)
        if outcome is None:
            return None
        if not outcome.finished:
            if line.phase is Phase.RUNNING:
                return None
            running = [x.model_copy(update={"phase": Phase.RUNNING}) if x is line else x for x in lines]
            phase = Phase.RUNNING if view.phase is Phase.STARTING else None
            return Update(phase, "ShardRunning", f"shard {line.index + 1} is running", _fields(running))
        summary = outcome.verdict.summary if outcome.verdict is not None else None
        lines = shards.on_shard_pod(
            lines, pod_name, outcome.phase, outcome.message, summary, outcome.retryable, view.retries
        )
        step = shards.next_step(lines)
        fields = _fields(lines)
        if step.action == "merge":
            name = shard_pod_name(view.name, ShardRole(len(lines)), 1)
            merge_pod.append(name)
            phase = Phase.RUNNING if view.phase is Phase.STARTING else None
            message = f"all {len(lines)} shards done; merging their reports"
            return Update(phase, "Merging", message, {**fields, "podName": name})
        if step.action == "finish":
            return Update(step.phase, "ShardFailed", step.message, fields, warning=True)
        requeued = any(x.phase is Phase.QUEUED for x in lines)
        message = f"shard {line.index + 1}: {outcome.phase.value}" + ("; running it again" if requeued else "")
        return Update(None, "ShardDone", message, fields, warning=outcome.phase is not Phase.PASSED)

    # Under the admission lock: a reconcile pass must not snapshot the run between its podName naming the merge pod
    # and that pod existing, or it reads the gap as a vanished pod (PodVanished, seen in e2e with ingest's Secret).
    async with ctx.admission_lock:
        new = await apply(ctx, ref, decide)
        if new is not None and merge_pod and new.status.pod_name == merge_pod[0]:
            await create_merge_pod(ctx, new)
    ctx.wake.set()  # a shard slot may be free, or a shard waits for one again


async def create_merge_pod(ctx: OperatorContext, view: RunView) -> None:
    spec = parse_spec(view.ref.resource.run_kind, dict(view.spec))
    files = await scripts.resolve(spec, ctx.sessions, ctx.kube, view.ref.namespace)
    role = ShardRole(len(view.status.shards or []))
    if ctx.settings.ingest_url:
        # Its own token, minted as it starts: the shards' tokens may have run out while they ran and retried.
        token = build_token_secret(view.ref, spec, 1, ctx.settings, datetime.now(UTC), role)
        await create_child(ctx, core_path("secrets", view.ref.namespace), token)
    pod = build_pod(view.ref, spec, files, 1, ctx.settings, quarantined=await history.quarantined_ids(ctx), shard=role)
    await create_child(ctx, core_path("pods", view.ref.namespace), pod)
