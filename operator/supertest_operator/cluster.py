"""One consistent look at the cluster: every run and every run pod in the watched namespaces.

Admission decisions are made from this (fresh list calls), never from memory alone, so a restarted
operator counts exactly what is there.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from supertest.kube.client import KubeApi
from supertest.kube.counting import pod_is_live
from supertest.kube.names import API_VERSION, LABEL_KIND, LABEL_RUN, RUN_RESOURCES, RunResource, resource_for_kind
from supertest.phases import ACTIVE_PHASES, Phase
from supertest_operator.run import RunView
from supertest_operator.shards import executions_held

RunKey = tuple[str, str, str]  # (plural, namespace, name)


def runs_path(resource: RunResource, namespace: str | None) -> str:
    if namespace is None:
        return f"/apis/{API_VERSION}/{resource.plural}"
    return f"/apis/{API_VERSION}/namespaces/{namespace}/{resource.plural}"


def core_list_path(plural: str, namespace: str | None) -> str:
    return f"/api/v1/{plural}" if namespace is None else f"/api/v1/namespaces/{namespace}/{plural}"


def pod_run_key(pod: Mapping[str, Any]) -> RunKey | None:
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    name, kind = labels.get(LABEL_RUN), labels.get(LABEL_KIND)
    if not name or not kind:
        return None
    try:
        plural = resource_for_kind(kind).plural
    except ValueError:
        return None
    return (plural, meta.get("namespace", ""), name)


@dataclass
class Snapshot:
    runs: list[RunView]
    bodies: dict[RunKey, dict[str, Any]]
    pods: list[dict[str, Any]]
    pod_names: set[tuple[str, str]] = field(init=False)  # (namespace, name)

    def __post_init__(self) -> None:
        self.pod_names = {((p.get("metadata") or {}).get("namespace", ""), p["metadata"]["name"]) for p in self.pods}

    def active_keys(self) -> set[RunKey]:
        """Runs holding a slot: Starting/Running, or a run whose pod still runs (a cancelled one, stopping).

        A finished run's Pending pod holds no slot: it never ran (a refused ConfigMap, an image that never came)."""
        keys = {v.ref.key for v in self.runs if v.phase in ACTIVE_PHASES}
        finished = {v.ref.key for v in self.runs if v.phase is not None and v.phase.is_terminal}
        for pod in self.pods:
            key = pod_run_key(pod)
            if key is None or not pod_is_live(pod):
                continue
            if key in finished and (pod.get("status") or {}).get("phase") == "Pending":
                continue
            keys.add(key)
        return keys

    def executions(self) -> int:
        """Running slots in use: a sharded run holds one per shard pod (or admitted shard line), or its merge pod;
        every other active run one. Live pods count too, so nothing still running is ever left out."""
        live = Counter(k for k in (pod_run_key(p) for p in self.pods if pod_is_live(p)) if k is not None)
        views = {v.ref.key: v for v in self.runs}
        total = 0
        for key in self.active_keys():
            view = views.get(key)
            lines = view.status.shards if view is not None else None
            held = executions_held(lines, merging=bool(view.status.pod_name)) if view is not None and lines else 1
            total += max(1, live[key], held)
        return total

    def queued(self) -> list[RunView]:
        return [v for v in self.runs if v.phase is Phase.QUEUED and not v.cancel_requested and not v.deleting]

    def waiting(self) -> list[RunView]:
        """Admission's candidates: Queued runs and runs not yet marked at all (phase-less, only just created)."""
        return [v for v in self.runs if v.phase in (None, Phase.QUEUED) and not v.cancel_requested and not v.deleting]

    def has_pod(self, view: RunView) -> bool:
        return (view.ref.namespace, view.status.pod_name or "") in self.pod_names

    def pod(self, view: RunView) -> dict[str, Any] | None:
        for pod in self.pods:
            meta = pod.get("metadata") or {}
            if meta.get("namespace") == view.ref.namespace and meta.get("name") == view.status.pod_name:
                return pod
        return None


async def take_snapshot(kube: KubeApi, namespaces: list[str]) -> Snapshot:
    scopes: list[str | None] = list(namespaces) if namespaces else [None]
    run_lists = await asyncio.gather(*(kube.list(runs_path(r, ns)) for r in RUN_RESOURCES for ns in scopes))
    # Pods after runs: a pod is only ever created for a run whose Starting status is already stored.
    pod_lists = await asyncio.gather(*(kube.list(core_list_path("pods", ns), f"{LABEL_RUN}") for ns in scopes))
    bodies: dict[RunKey, dict[str, Any]] = {}
    views: list[RunView] = []
    for items in run_lists:
        for body in items:
            view = RunView.from_body(body)
            views.append(view)
            bodies[view.ref.key] = body
    return Snapshot(runs=views, bodies=bodies, pods=[p for items in pod_lists for p in items])
