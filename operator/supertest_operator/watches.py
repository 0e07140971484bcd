"""Our own watches of TestRuns, JobRuns and run pods, one stream per kind and namespace, feeding the caches.

Why not kopf's: kopf gives every object a worker task (with its own queue, logger and memory) that lives on after
each event, and decodes and wraps every event in Python; a burst of thousands of runs held thousands of workers at
once, and kopf's pod watch alone was about a quarter of the operator's CPU (bench/burst.py, profiled). Here an
event costs a dict update, and only the events that call for API work start a task.

A (re)started watch first lists its kind (each item handled like an event, as kopf did) and resumes from that list's
version; a 410 (too old) lists again. The run cache's own full resync stays the backstop for anything missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import structlog

from supertest.kube.client import KubeError
from supertest.kube.names import LABEL_RUN, RUN_RESOURCES, RunResource
from supertest_operator.builders import MERGE
from supertest_operator.cluster import core_list_path, runs_path
from supertest_operator.context import OperatorContext
from supertest_operator.handlers import pod_status, run_events, shards, webhook

log = structlog.get_logger("supertest.operator.watch")
WATCH_SECONDS = 300  # the apiserver ends a watch after about this long; we resume from the last version seen
RETRY_SECONDS = 1.0
LEADER_POLL_SECONDS = 1.0  # how soon a replica that became leader starts its pod watch (its lease is 15 s)

OnEvent = Callable[[str | None, dict[str, Any]], None]  # (event type, None for a listed item; the object)
PodKey = tuple[str, str]  # (namespace, name)


async def follow(
    ctx: OperatorContext, what: str, path: str, kind: str, on_event: OnEvent, label_selector: str | None = None
) -> None:
    """List `path`, then watch it from the list's version, for ever; every item and event goes to `on_event`."""
    version = ""
    while True:
        try:
            if not version:
                async for items, at in ctx.kube.pages(path, label_selector):
                    version = version or at
                    for body in items:
                        on_event(None, body)
            async for event in ctx.kube.watch(path, version, WATCH_SECONDS, label_selector):
                body = event.get("object") or {}
                version = str((body.get("metadata") or {}).get("resourceVersion") or version)
                if event.get("type") == "BOOKMARK":
                    continue
                body.setdefault("kind", kind)
                on_event(str(event.get("type")), body)
        except asyncio.CancelledError:
            raise
        except KubeError as exc:
            if exc.status == 410:
                version = ""  # our version is too old for the apiserver: list again
                continue
            log.warning("watch_failed", what=what, status=exc.status, reason=exc.message)
            await asyncio.sleep(RETRY_SECONDS)
        except Exception as exc:  # a dropped connection, a timeout: resume from the last version seen
            log.warning("watch_interrupted", what=what, error=repr(exc))
            await asyncio.sleep(RETRY_SECONDS)


def _scopes(ctx: OperatorContext) -> list[str | None]:
    return list(ctx.settings.namespace_list) or [None]


async def watch_runs(ctx: OperatorContext, gate: webhook.QueueGate) -> None:
    def on_event(resource: RunResource) -> OnEvent:
        return lambda event_type, body: run_events.dispatch(ctx, gate, event_type, resource.plural, body)

    await asyncio.gather(
        *(follow(ctx, r.kind, runs_path(r, ns), r.kind, on_event(r)) for r in RUN_RESOURCES for ns in _scopes(ctx))
    )


class PodEvents:
    """Each run pod's events handled in order, one at a time, and only its newest one when several are waiting
    (kopf's per-object worker and batching did the same): a pod's later state always wins over an earlier one."""

    def __init__(self, ctx: OperatorContext, handle: Callable[[str | None, dict[str, Any]], Awaitable[None]]) -> None:
        self._ctx, self._handle = ctx, handle
        self._waiting: dict[PodKey, tuple[str | None, dict[str, Any]]] = {}
        self._busy: set[PodKey] = set()

    def push(self, event_type: str | None, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        self._waiting[key] = (event_type, pod)
        if key not in self._busy:
            self._busy.add(key)
            self._ctx.spawn(self._drain(key), name=f"pod-{key[1]}")

    async def _drain(self, key: PodKey) -> None:
        try:
            while (item := self._waiting.pop(key, None)) is not None:
                try:
                    await self._handle(*item)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # as kopf's event handlers: logged; the reconcile pass is the backstop
                    log.error("pod_event_failed", pod=key[1], error=repr(exc))
        finally:
            self._busy.discard(key)


async def on_run_pod(ctx: OperatorContext, event_type: str | None, pod: dict[str, Any]) -> None:
    deleted = event_type == "DELETED"
    if shards.shard_label(pod) not in (None, MERGE):  # a shard's pod; the merge pod speaks for its run
        ref = pod_status.run_ref_of(pod)
        if ref is not None:
            await shards.on_shard_pod(ctx, ref, pod, deleted)
        return
    await pod_status.on_pod_event(ctx, event_type, pod)


async def watch_pods(ctx: OperatorContext) -> None:
    """The run pods' events, while this replica leads (status writes are the leader's). Each time it becomes
    leader the watch starts with a list, so a pod that finished while another replica led (or none did) is
    handled like an event, as kopf handled every pod at start-up."""
    while True:
        # Polled: leadership is a lease that lapses with time (leader.py), no event marks its start or end.
        while not ctx.leader.is_leader:  # noqa: ASYNC110
            await asyncio.sleep(LEADER_POLL_SECONDS)
        events = PodEvents(ctx, lambda event_type, pod: on_run_pod(ctx, event_type, pod))

        def on_event(event_type: str | None, pod: dict[str, Any], events: PodEvents = events) -> None:
            ctx.pods.observe(pod, deleted=event_type == "DELETED")  # the pass's pod cache sees it first
            events.push(event_type, pod)

        path = [core_list_path("pods", ns) for ns in _scopes(ctx)]
        watching = asyncio.gather(*(follow(ctx, "pods", p, "Pod", on_event, LABEL_RUN) for p in path))
        while ctx.leader.is_leader and not watching.done():  # noqa: ASYNC110
            await asyncio.sleep(LEADER_POLL_SECONDS)
        watching.cancel()
        with suppress(asyncio.CancelledError):
            await watching
