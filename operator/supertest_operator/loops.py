"""The operator's background loops: reconcile (admission, deadlines, retries, TTL), orphans, retention, TestJob
schedules, and the alert sender (the notification outbox).

Reconcile runs on every wake-up (run created, pod finished, ...) and at least every
RECONCILE_INTERVAL_SECONDS; each pass reads the run cache (re-listed in full every RUN_RESYNC_SECONDS, so nothing
depends on an event being seen) and lists the run pods afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import structlog

from supertest.crypto import load_secret_box
from supertest.kube.client import KubeError
from supertest.notify.sender import OutboxSender
from supertest_operator import retention
from supertest_operator.cluster import cached_snapshot
from supertest_operator.context import OperatorContext
from supertest_operator.handlers import (
    admission,
    cancel,
    cleanup,
    node_loss,
    orphans,
    pod_status,
    rerun,
    retries,
    scheduler,
    timeout,
)

log = structlog.get_logger("supertest.operator.loops")
# The apiserver answers these while it starts or its storage (re)initialises: the loop's next pass retries, so they
# are worth a warning line, not a traceback that reads like a defect.
TRANSIENT_STATUSES = frozenset({429, 503})


def log_pass_failure(event: str, exc: Exception) -> None:
    if isinstance(exc, KubeError) and exc.status in TRANSIENT_STATUSES:
        log.warning(event, status=exc.status, reason=exc.message, retried=True)
    else:
        log.exception(event)


async def reconcile_once(ctx: OperatorContext) -> int:
    if not ctx.leader.is_leader:
        ctx.last_pass = time.monotonic()  # a healthy standby
        ctx.runs.synced = False  # list again in full on becoming leader
        return 0
    async with ctx.admission_lock:
        snap = await cached_snapshot(
            ctx.kube, ctx.settings.namespace_list, ctx.runs, ctx.pods, ctx.settings.run_resync_seconds
        )
        if snap.first_list:
            rerun.resume(ctx, snap.all_runs())
        await cancel.sweep(ctx, snap.runs)
        await timeout.check(ctx, snap)
        await pod_status.sweep_vanished(ctx, snap)
        await node_loss.sweep(ctx, snap)
        now = datetime.now(UTC)
        for view in snap.runs:
            if retries.retry_due(view, now):
                await retries.requeue(ctx, view)
        if time.monotonic() - ctx.last_cleanup >= ctx.settings.reconcile_interval_seconds:
            # Over every finished run, so on the interval rather than on every (burst-driven) pass.
            ctx.last_cleanup = time.monotonic()
            await cleanup.expire(ctx, snap)
        await admission.recover_starting(ctx, snap)
        # Last, on the same snapshot: runs finished above still count until their pods are gone (safe side).
        admitted = await admission.admission_pass(ctx, snap)
    ctx.last_pass = time.monotonic()
    ctx.ready = True
    return admitted


async def reconcile_forever(ctx: OperatorContext) -> None:
    cost = ended = 0.0
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx.wake.wait(), ctx.settings.reconcile_interval_seconds)
        # Every transition wakes us, and every pass lists all runs and pods: keep an idle gap as long as the last
        # pass took (at most half the time in passes), so a burst's wake-ups coalesce; after a quiet spell the
        # gap has already passed and a new run is admitted at once.
        await asyncio.sleep(max(0.0, ended + min(cost, ctx.settings.max_pass_gap_seconds) - time.monotonic()))
        ctx.wake.clear()
        began = time.monotonic()
        try:
            admitted = await reconcile_once(ctx)
            ended = time.monotonic()
            cost = ended - began
            if admitted:
                ctx.wake.set()  # admitted something: look again, more may fit
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the apiserver hiccups; the next pass starts from a fresh list anyway
            log_pass_failure("reconcile_failed", exc)
            await asyncio.sleep(1.0)


async def orphans_forever(ctx: OperatorContext) -> None:
    while True:
        await asyncio.sleep(ctx.settings.orphan_interval_seconds)
        if not ctx.leader.is_leader:
            continue
        try:
            await orphans.sweep(ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log_pass_failure("orphan_sweep_failed", exc)


async def retention_forever(ctx: OperatorContext) -> None:
    while True:
        if not ctx.leader.is_leader:
            await asyncio.sleep(5)
            continue
        try:
            await retention.run_once(ctx.settings, ctx.redis, ctx.sessions)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log_pass_failure("retention_failed", exc)
        await asyncio.sleep(ctx.settings.retention_interval_seconds)


async def scheduler_forever(ctx: OperatorContext) -> None:
    """TestJob ticks: sleep until the nearest one, or until a TestJob or one of its runs changes."""
    state = scheduler.TestJobScheduler.of(ctx)  # what the scheduler remembers between passes
    while True:
        delay = scheduler.RETRY_SECONDS
        if ctx.leader.is_leader:
            try:
                delay = await scheduler.schedule_pass(state)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the apiserver hiccups; the next pass re-lists everything
                log_pass_failure("schedule_pass_failed", exc)
        try:
            # A few ms past the tick, so the pass that wakes for it sees it as due.
            await asyncio.wait_for(ctx.schedule_wake.wait(), max(0.05, delay + 0.02))
        except TimeoutError:
            continue  # a tick is due: no debounce
        # Woken by a change: coalesce a burst of watch events (our own status writes among them) into one pass.
        await asyncio.sleep(ctx.settings.schedule_debounce_seconds)
        ctx.schedule_wake.clear()


async def notify_forever(ctx: OperatorContext) -> None:
    """Kubernetes mode's alert sender: the operator drains the notification outbox."""
    # Why the operator and not the API: the operator is the process that writes terminal transitions into Postgres
    # (its status mirror), and so the outbox rows; it runs as one active replica (the Lease), always, whereas the API
    # scales to zero or to many and may not run at all in a GitOps-only install. The sender is safe to run in several
    # processes anyway (rows are claimed with a lease), so a leader change neither loses nor duplicates an alert.
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
