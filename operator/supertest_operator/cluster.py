"""One look at the cluster: every run and every run pod in the watched namespaces.

The reconcile pass takes it from the run cache (run_cache.py: a full list at start-up and every resync interval,
kept current by watch events and our own writes) plus a fresh list of run pods; the orphan sweep, which deletes
what has no run, takes it from fresh list calls only (`take_snapshot`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from supertest.kube.client import KubeApi
from supertest.kube.counting import pod_is_live
from supertest.kube.names import API_VERSION, LABEL_KIND, LABEL_RUN, RUN_RESOURCES, RunResource, resource_for_kind
from supertest.phases import ACTIVE_PHASES
from supertest_operator.run import RunView
from supertest_operator.run_cache import PodCache, RunCache, RunKey
from supertest_operator.shards import executions_held


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
    """`runs` are the runs the per-pass sweeps look at. From the cache, only the busy ones (active, cancelling,
    waiting for a retry): neither the queue (admission reads its head from the run cache) nor the finished runs
    (`all_runs`, for the TTL sweep) cost the sweeps anything per pass."""

    runs: list[RunView]
    pods: list[dict[str, Any]]
    by_key: dict[RunKey, RunView] | None = None  # every run; None: `runs` are all of them
    first_list: bool = False  # the cache was just filled from scratch (start-up, or this replica became leader)
    pod_names: set[tuple[str, str]] = field(init=False)  # (namespace, name)

    def __post_init__(self) -> None:
        self.pod_names = {((p.get("metadata") or {}).get("namespace", ""), p["metadata"]["name"]) for p in self.pods}
        if self.by_key is None:
            self.by_key = {v.ref.key: v for v in self.runs}

    def all_runs(self) -> list[RunView]:
        return list(self.by_key.values()) if self.by_key is not None else self.runs

    def view(self, key: RunKey) -> RunView | None:
        return self.by_key.get(key) if self.by_key is not None else None

    def active_keys(self) -> set[RunKey]:
        """Runs holding a slot: Starting/Running, or a run whose pod still runs (a cancelled one, stopping).

        A finished run's Pending pod holds no slot: it never ran (a refused ConfigMap, an image that never came)."""
        keys = {v.ref.key for v in self.runs if v.phase in ACTIVE_PHASES}
        for pod in self.pods:
            key = pod_run_key(pod)
            if key is None or not pod_is_live(pod):
                continue
            view = self.view(key)
            finished = view is not None and view.phase is not None and view.phase.is_terminal
            if finished and (pod.get("status") or {}).get("phase") == "Pending":
                continue
            keys.add(key)
        return keys

    def executions(self) -> int:
        """Running slots in use: a sharded run holds one per shard pod (or admitted shard line), or its merge pod;
        every other active run one. Live pods count too, so nothing still running is ever left out."""
        live = Counter(k for k in (pod_run_key(p) for p in self.pods if pod_is_live(p)) if k is not None)
        total = 0
        for key in self.active_keys():
            view = self.view(key)
            lines = view.status.shards if view is not None else None
            held = executions_held(lines, merging=bool(view.status.pod_name)) if view is not None and lines else 1
            total += max(1, live[key], held)
        return total

    def has_pod(self, view: RunView) -> bool:
        return (view.ref.namespace, view.status.pod_name or "") in self.pod_names

    def pod(self, view: RunView) -> dict[str, Any] | None:
        for pod in self.pods:
            meta = pod.get("metadata") or {}
            if meta.get("namespace") == view.ref.namespace and meta.get("name") == view.status.pod_name:
                return pod
        return None


def _scopes(namespaces: list[str]) -> list[str | None]:
    return list(namespaces) if namespaces else [None]


class Listing(Protocol):
    """A cache refilled from full lists (RunCache, PodCache)."""

    def begin_list(self) -> None: ...
    def listed(self, item: Mapping[str, Any], /) -> None: ...
    def finish_list(self, list_version: str) -> None: ...
    def abort_list(self) -> None: ...


async def _relist(kube: KubeApi, into: Listing, lists: list[tuple[str, str | None]]) -> None:
    """Refill `into` from the full lists of (path, label selector), paged: each page is slimmed before the next is
    read. Every page of a list is read at its first page's version, and the lists are read one after the other, so
    the first one's version is the oldest."""
    into.begin_list()
    try:
        at = ""
        for path, selector in lists:
            async for items, version in kube.pages(path, selector):
                at = at or version
                for item in items:
                    into.listed(item)
        into.finish_list(at)
    except BaseException:
        into.abort_list()
        raise


async def resync(kube: KubeApi, namespaces: list[str], cache: RunCache, pods: PodCache) -> None:
    """Refill the caches from full lists: the run pods, then the runs."""
    scopes = _scopes(namespaces)
    await _relist(kube, pods, [(core_list_path("pods", ns), LABEL_RUN) for ns in scopes])
    await _relist(kube, cache, [(runs_path(resource, ns), None) for resource in RUN_RESOURCES for ns in scopes])


async def cached_snapshot(
    kube: KubeApi, namespaces: list[str], cache: RunCache, pod_cache: PodCache, resync_seconds: float
) -> Snapshot:
    """The runs and their pods as the caches hold them (both listed afresh first when due)."""
    first = not cache.synced
    if first or time.monotonic() - cache.synced_at >= resync_seconds:
        await resync(kube, namespaces, cache, pod_cache)
    by_key = cache.by_key()
    busy = [by_key[k] for k in cache.busy_keys()]
    # A pod is only ever created for a run whose Starting status is already stored (and in the run cache, as the
    # status writer feeds it before the admission lock is released): a pod not seen yet is counted by its run.
    pods = pod_cache.pods()
    return Snapshot(runs=busy, pods=pods, by_key=by_key, first_list=first)


async def take_snapshot(kube: KubeApi, namespaces: list[str]) -> Snapshot:
    scopes = _scopes(namespaces)
    run_lists = await asyncio.gather(*(kube.list(runs_path(r, ns)) for r in RUN_RESOURCES for ns in scopes))
    # Pods after runs: a pod is only ever created for a run whose Starting status is already stored.
    pod_lists = await asyncio.gather(*(kube.list(core_list_path("pods", ns), f"{LABEL_RUN}") for ns in scopes))
    views: list[RunView] = []
    for items in run_lists:
        for body in items:
            view = RunView.from_body(body)
            views.append(view)
    return Snapshot(runs=views, pods=[p for items in pod_lists for p in items])
