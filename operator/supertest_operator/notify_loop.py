"""Kubernetes mode's alert sender: the operator drains the notification outbox.

Why the operator and not the API: the operator is the process that writes terminal transitions into Postgres
(its status mirror), and so the outbox rows; it runs as one active replica (the Lease), always, whereas the API
scales to zero or to many and may not run at all in a GitOps-only install. The sender is safe to run in several
processes anyway (rows are claimed with a lease), so a leader change neither loses nor duplicates an alert.
"""

from __future__ import annotations

import asyncio

import structlog

from supertest.crypto import load_secret_box
from supertest.notify.sender import OutboxSender
from supertest_operator.context import OperatorContext

log = structlog.get_logger("supertest.operator.notify")


async def notify_forever(ctx: OperatorContext) -> None:
    if ctx.sessions is None:
        return  # no database, no outbox
    sender = OutboxSender(ctx.settings, ctx.sessions, load_secret_box(ctx.settings))
    while True:
        if not ctx.leader.is_leader:
            await asyncio.sleep(5)
            continue
        try:
            attempted = await sender.drain()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("notify_drain_failed")
            attempted = 0
        if not attempted:
            await asyncio.sleep(ctx.settings.notify_poll_seconds)
