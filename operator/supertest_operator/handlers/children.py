"""Removing a run's children when its attempt ends in Error without having run: the pod, the attempt's token Secret
and the script ConfigMap (only large scripts have one; builders.INLINE_SCRIPT_BYTES).

A pod left behind waiting for a ConfigMap the apiserver refused (or an image that never comes) would sit Pending
for as long as the run lives; a retry creates both again (creation tolerates 409, so the order never matters).
"""

from __future__ import annotations

from typing import Any

import structlog

from supertest.kube.client import KubeError, core_path
from supertest_operator.builders import child_name, pod_token_secret_name
from supertest_operator.context import OperatorContext
from supertest_operator.run import RunRef

log = structlog.get_logger("supertest.operator.children")


async def delete_children(
    ctx: OperatorContext, ref: RunRef, pod_name: str, pod: bool = True, configmap: bool = True
) -> None:
    """Best effort: a failure is logged, and the orphan sweep and the TTL (owner references) still remove them.
    `pod_name` names the attempt's pod (a run pod or a merge pod), made or not: its token Secret is named after it,
    and goes too (the attempt it was minted for will never send with it; a retry mints its own). `pod` False: the
    pod was never created. `configmap` False: none was asked for (the scripts are in the pod). Either way, no
    DELETE that must 404."""
    paths = [core_path("configmaps", ref.namespace, child_name(ref.name))] if configmap else []
    if ctx.settings.ingest_url:
        paths.append(core_path("secrets", ref.namespace, pod_token_secret_name(pod_name)))
    if pod:
        paths.append(core_path("pods", ref.namespace, pod_name))
    for path in paths:
        try:
            await ctx.kube.delete(path, grace_seconds=0)  # nothing ran in it: no runner to let finish
        except KubeError as exc:
            if exc.status == 404:  # never made (refused, or its scripts are in the pod), or gone already
                continue
            log.warning("child_delete_failed", run=ref.name, path=path, error=str(exc))
    ctx.wake.set()  # a slot may be free now


async def create_child(ctx: OperatorContext, path: str, manifest: dict[str, Any]) -> None:
    """Create a run's child; 409 means a previous try (or a crashed pass) already did, which is fine."""
    try:
        created = await ctx.kube.create(path, manifest)
    except KubeError as exc:
        if exc.status != 409:
            raise
        return
    if created.get("kind") == "Pod":
        ctx.pods.observe(created)  # the pass's pod cache sees it before its watch event comes
