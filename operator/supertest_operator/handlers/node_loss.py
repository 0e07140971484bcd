"""Runs on a lost node end Error NodeLost (retried per spec.retries), and their pods are force-deleted. A shard pod
on a lost node sends its shard alone back to Queued (spec.retries per shard), the other shards keep running.

A node that dies takes its kubelet with it: nobody will ever report the pod's end, and a graceful deletion would
wait for ever. Kubernetes only evicts such pods after the unreachable taint's tolerationSeconds (300 s by default),
and even then the pod hangs in Terminating, holding the run's slot. The operator decides sooner, from the Node
alone: gone, or its Ready condition away from True for NODE_LOST_SECONDS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from supertest.kube.client import KubeError, core_path
from supertest.kube.counting import pod_is_live
from supertest.kube.models import parse_time
from supertest.phases import ACTIVE_PHASES
from supertest_operator import shards
from supertest_operator.context import OperatorContext
from supertest_operator.handlers.retries import error_update
from supertest_operator.run import RunView
from supertest_operator.status_writer import apply
from supertest_operator.transitions import Update

log = structlog.get_logger("supertest.operator.node_loss")
NODES_PATH = "/api/v1/nodes"


def node_lost(node: Mapping[str, Any] | None, now: datetime, grace_seconds: float) -> str | None:
    """Why the node counts as lost (pure), or None while it may still come back."""
    if node is None:
        return "the node no longer exists"
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if ready is None or ready.get("status") == "True":
        return None
    since = parse_time(ready.get("lastTransitionTime")) or now
    if (now - since).total_seconds() < grace_seconds:
        return None
    reason = ready.get("reason") or "no reason given"
    return f"the node has been Ready={ready.get('status')} ({reason}) since {since.isoformat()}"


def lost_pods(
    pods: list[dict[str, Any]], nodes: Mapping[str, Mapping[str, Any]], now: datetime, grace_seconds: float
) -> list[tuple[dict[str, Any], str, str]]:
    """(pod, node name, why) for every live pod bound to a lost node (pure)."""
    found = []
    for pod in pods:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name or not pod_is_live(pod):
            continue
        why = node_lost(nodes.get(node_name), now, grace_seconds)
        if why is not None:
            found.append((pod, node_name, why))
    return found


def _shard_decision(pod_name: str, message: str) -> Callable[[RunView], Update | None]:
    """The lost shard goes back to Queued alone (or ends Error without retries left, and the run with it)."""

    def decide(current: RunView) -> Update | None:
        if current.phase not in ACTIVE_PHASES or not current.status.shards or current.status.pod_name:
            return None  # finished, or merging (the merge pod is the run's pod, handled as an unsharded one)
        lines, step = shards.on_node_lost(current.status.shards, pod_name, message, current.retries)
        if lines == current.status.shards:
            return None  # not one of its live shard pods (any more)
        fields = {"shards": shards.lines_field(lines), "shardsDone": shards.shards_done(lines)}
        if step.action == "finish":
            return Update(step.phase, "ShardNodeLost", step.message, fields, warning=True)
        return Update(None, "ShardNodeLost", message, fields, warning=True)

    return decide


async def sweep(ctx: OperatorContext, snap: Any) -> int:
    """Called on every reconcile pass with its snapshot; returns the number of pods given up."""
    if not any(pod_is_live(p) and (p.get("spec") or {}).get("nodeName") for p in snap.pods):
        return 0
    try:
        nodes = {n["metadata"]["name"]: n for n in await ctx.kube.list(NODES_PATH)}
    except KubeError as exc:
        if exc.status != 403:
            raise
        # Without RBAC on nodes (an older chart), node loss falls back to Kubernetes' own eviction.
        log.warning("node_list_forbidden", error=str(exc))
        return 0
    lost = lost_pods(snap.pods, nodes, datetime.now(UTC), ctx.settings.node_lost_seconds)
    for pod, node_name, why in lost:
        meta = pod["metadata"]
        view = next(
            (v for v in snap.runs if v.ref.namespace == meta["namespace"] and v.status.pod_name == meta["name"]),
            None,
        )
        message = f"node {node_name} was lost: {why}"
        shard_of = next(
            (
                v
                for v in snap.runs
                if v.ref.namespace == meta["namespace"] and meta["name"] in shards.pods_to_stop(v.status.shards, None)
            ),
            None,
        )
        if shard_of is not None:
            await apply(ctx, shard_of.ref, _shard_decision(meta["name"], message))
        if view is not None:

            def decide(current: RunView, pod_name: str = meta["name"], message: str = message) -> Update | None:
                if current.phase not in ACTIVE_PHASES or current.status.pod_name != pod_name:
                    return None
                return error_update(current, "NodeLost", message, True, ctx.settings)

            await apply(ctx, view.ref, decide)
        # After the status: a crash in between leaves a live pod on a lost node, which the next pass deletes.
        log.warning("node_lost_pod_deleted", pod=meta["name"], namespace=meta["namespace"], node=node_name, why=why)
        await ctx.kube.delete(core_path("pods", meta["namespace"], meta["name"]), grace_seconds=0)
    return len(lost)
