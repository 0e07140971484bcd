"""Our own watch of TestRuns and JobRuns, one stream per kind and namespace, feeding the run cache.

Why not kopf's: kopf gives every object a worker task (with its own queue, logger and memory) that lives on after
each event; a burst of thousands of runs held thousands of them at once, most of the operator's CPU at depth and
tens of MiB (bench/burst.py). Here an event costs a dict update; only the events that call for API work (an invalid
or cancelled new run, a cancel, a deletion, a rerun request) start a task.

A (re)started watch first lists its kind (each item handled like an event, as kopf did) and resumes from that list's
version; a 410 (too old) lists again. The run cache's own full resync stays the backstop for anything missed.
"""

from __future__ import annotations

import asyncio

import structlog

from supertest.kube.client import KubeError
from supertest.kube.names import RUN_RESOURCES, RunResource
from supertest_operator.cluster import runs_path
from supertest_operator.context import OperatorContext
from supertest_operator.handlers import run_events, webhook

log = structlog.get_logger("supertest.operator.watch")
WATCH_SECONDS = 300  # the apiserver ends a watch after about this long; we resume from the last version seen
RETRY_SECONDS = 1.0


async def watch_runs(ctx: OperatorContext, gate: webhook.QueueGate) -> None:
    scopes: list[str | None] = list(ctx.settings.namespace_list) or [None]
    await asyncio.gather(*(watch_one(ctx, gate, r, ns) for r in RUN_RESOURCES for ns in scopes))


async def _list(ctx: OperatorContext, gate: webhook.QueueGate, resource: RunResource, path: str) -> str:
    version = ""
    async for items, at in ctx.kube.pages(path):
        version = version or at
        for body in items:
            run_events.dispatch(ctx, gate, None, resource.plural, body)
    return version


async def watch_one(ctx: OperatorContext, gate: webhook.QueueGate, resource: RunResource, ns: str | None) -> None:
    path = runs_path(resource, ns)
    version = ""
    while True:
        try:
            if not version:
                version = await _list(ctx, gate, resource, path)
            async for event in ctx.kube.watch(path, version, WATCH_SECONDS):
                body = event.get("object") or {}
                version = str((body.get("metadata") or {}).get("resourceVersion") or version)
                if event.get("type") == "BOOKMARK":
                    continue
                body.setdefault("kind", resource.kind)
                run_events.dispatch(ctx, gate, str(event.get("type")), resource.plural, body)
        except asyncio.CancelledError:
            raise
        except KubeError as exc:
            if exc.status == 410:
                version = ""  # our version is too old for the apiserver: list again
                continue
            log.warning("run_watch_failed", kind=resource.kind, status=exc.status, reason=exc.message)
            await asyncio.sleep(RETRY_SECONDS)
        except Exception as exc:  # a dropped connection, a timeout: resume from the last version seen
            log.warning("run_watch_interrupted", kind=resource.kind, error=repr(exc))
            await asyncio.sleep(RETRY_SECONDS)
