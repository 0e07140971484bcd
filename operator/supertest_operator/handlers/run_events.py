"""Every watch event of a run, dispatched: new -> queue it, spec.cancel -> cancel it, deleted -> cancel it.

Plain event handlers instead of kopf's create/field/delete handlers: those store kopf's progress and a copy
of the whole spec (up to 256 KiB of script) in annotations, and add a finalizer. Everything here is
idempotent and the reconcile pass re-checks cancels, so nothing depends on seeing a particular event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from supertest_operator.context import OperatorContext
from supertest_operator.handlers import admission, cancel, webhook


async def on_run_event(
    ctx: OperatorContext, gate: webhook.QueueGate, event_type: str | None, plural: str, body: Mapping[str, Any]
) -> None:
    meta = body.get("metadata") or {}
    if event_type == "DELETED":
        await cancel.on_delete(ctx, body)
        return
    if not (body.get("status") or {}).get("phase"):
        webhook.forget_pending(gate, plural, meta.get("namespace", ""), meta.get("name", ""))
        await admission.on_create(ctx, body)
    elif (body.get("spec") or {}).get("cancel"):
        await cancel.on_cancel(ctx, body)
