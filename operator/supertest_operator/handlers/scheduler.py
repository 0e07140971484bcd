"""The TestJob scheduler: CronJob semantics, one JobRun per tick, decided by `supertest.schedule.decide`.

Exactly once per tick, across restarts: the JobRun of a tick is named `<testjob>-<minutes since epoch>`, so a
second create of the same tick is a 409, never a second run; and the newest tick is also read back from the
runs' `scheduled-at` annotations, so a crash between creating a run and writing lastScheduleTime loses nothing.
Every pass re-lists TestJobs and their JobRuns: nothing depends on a watch event having been seen.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

import kopf
import structlog
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from supertest import schedule
from supertest.kube import testjobs as paths
from supertest.kube.client import KubeApi, KubeError, run_path
from supertest.kube.models import TestJobSpec, TestJobStatus, format_time
from supertest.kube.names import API_VERSION, JOBRUN, LABEL_TESTJOB, TESTJOB_KIND
from supertest.phases import Phase
from supertest_operator import metrics, testjob_mirror
from supertest_operator.builders import build_testjob_run
from supertest_operator.cluster import runs_path
from supertest_operator.context import OperatorContext
from supertest_operator.events import EventTarget
from supertest_operator.settings import OperatorSettings
from supertest_operator.testjob import (
    TRIGGER_MANUAL,
    TRIGGER_SCHEDULE,
    OwnedRun,
    TestJobView,
    manual_run_name,
    manual_token,
)
from supertest_operator.testjob_status import (
    fill_status,
    first_error,
    invalid_status,
    missed_ticks,
    schedule_spec,
    schedule_state,
    set_condition,
    status_patch,
)

log = structlog.get_logger("supertest.operator.scheduler")

# The longest the scheduler sleeps without a wake-up (a new TestJob or a run change wakes it at once).
MAX_SLEEP_SECONDS = 30.0
# After a failed create (queue full, apiserver error) the tick is retried this soon, within its deadline.
RETRY_SECONDS = 5.0
P = TypeVar("P")
CONCURRENT_RECONCILES = 16


class CreateFailed(Exception):
    pass


class PostEvent(Protocol):
    def __call__(self, ref: EventTarget, reason: str, message: str, warning: bool = False) -> None: ...


@dataclass
class TestJobScheduler:
    """What the scheduler works with, and what it remembers between passes (owned by its loop, not by
    OperatorContext)."""

    __test__ = False  # not a pytest class

    kube: KubeApi
    settings: OperatorSettings
    sessions: sessionmaker[Session] | None
    post_event: PostEvent
    # (namespace, testjob) -> the tick a Forbid skip was last reported for, so it is posted once per tick.
    skips_reported: dict[tuple[str, str], str] = field(default_factory=dict)
    # (namespace, testjob) -> the newest missed tick already counted in supertest_schedule_missed_ticks_total.
    missed_reported: dict[tuple[str, str], datetime] = field(default_factory=dict)
    # (namespace, testjob) -> what was last written to its `jobs` row, so unchanged TestJobs cost no write.
    testjob_rows: dict[tuple[str, str], Any] = field(default_factory=dict)

    @classmethod
    def of(cls, ctx: OperatorContext) -> TestJobScheduler:
        return cls(kube=ctx.kube, settings=ctx.settings, sessions=ctx.sessions, post_event=ctx.post_event)


async def schedule_pass(ctx: TestJobScheduler, now: datetime | None = None) -> float:
    """Reconcile every TestJob once; return the seconds until the next tick of any of them."""
    now = now or datetime.now(UTC)
    scopes: list[str | None] = list(ctx.settings.namespace_list) or [None]
    lists = await asyncio.gather(
        *(ctx.kube.list(paths.collection_path(ns)) for ns in scopes),
        *(ctx.kube.list(runs_path(JOBRUN, ns), LABEL_TESTJOB) for ns in scopes),
    )
    testjobs = [v for items in lists[: len(scopes)] for b in items if (v := _parsed(TestJobView.from_body, b))]
    owned: dict[tuple[str, str], list[OwnedRun]] = defaultdict(list)
    for items in lists[len(scopes) :]:
        for body in items:
            if run := _parsed(OwnedRun.from_body, body):
                owned[(run.namespace, run.testjob)].append(run)
    # TestJobs are independent: reconciled concurrently, so the 20th of a shared tick is not 20 round trips late.
    limit = asyncio.Semaphore(CONCURRENT_RECONCILES)

    async def one(view: TestJobView) -> float:
        # Owned, not just labelled: a user's JobRun with our label, or a run of a deleted TestJob of the same name,
        # is not this TestJob's history (never counted, cancelled or deleted).
        runs = [r for r in owned.get(view.ref.key, []) if r.owner_uid == view.ref.uid]
        async with limit:
            try:
                return await reconcile(ctx, view, runs, now)
            except (KubeError, CreateFailed, OSError, TimeoutError) as exc:
                log.warning("testjob_reconcile_failed", testjob=view.name, namespace=view.ref.namespace, error=str(exc))
            except Exception:  # one TestJob's surprise must not stop the others' schedules
                log.exception("testjob_reconcile_crashed", testjob=view.name, namespace=view.ref.namespace)
            return RETRY_SECONDS

    delays = await asyncio.gather(*(one(v) for v in testjobs if not v.deleting))
    present = {v.ref.key for v in testjobs}
    await testjob_mirror.forget_vanished(ctx.sessions, ctx.settings.namespace_list, ctx.testjob_rows, present)
    for memo in (ctx.skips_reported, ctx.missed_reported, ctx.testjob_rows):
        for key in [k for k in memo if k not in present]:
            del memo[key]
    return min([MAX_SLEEP_SECONDS, *delays])


def _parsed(parse: Callable[[Mapping[str, Any]], P], body: Mapping[str, Any]) -> P | None:
    """A malformed object (a hand-made JobRun with our label, an old status) is logged and skipped, never fatal."""
    try:
        return parse(body)
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        meta = body.get("metadata") or {}
        log.warning("schedule_object_skipped", kind=body.get("kind"), name=meta.get("name"), error=str(exc)[:300])
        return None


async def reconcile(ctx: TestJobScheduler, view: TestJobView, runs: Sequence[OwnedRun], now: datetime) -> float:
    new = view.status.model_copy(deep=True)
    try:
        spec = TestJobSpec.model_validate(dict(view.spec))
        schedule.validate(spec.schedule, spec.time_zone)
    except (ValidationError, schedule.InvalidSchedule) as exc:
        await _invalid(ctx, view, new, first_error(exc), now)
        return MAX_SLEEP_SECONDS
    active = [r for r in runs if r.active]

    token = manual_token(view.run_now) if view.run_now is not None else None
    if token is not None and token != view.status.last_manual_run:
        name = manual_run_name(view.name, token)
        if await _create(ctx, view, name, TRIGGER_MANUAL, None):
            ctx.post_event(view.ref, "ManualRun", f"Created JobRun {name} (annotation supertest.dev/run-now)")
        new.last_manual_run = token

    state = schedule_state(view, runs, active, now)
    if state.last_schedule_time is not None:
        new.last_schedule_time = format_time(state.last_schedule_time)
    # In a thread: after a long outage the tick walk is long, and the event loop also renews the leader lease.
    decision = await asyncio.to_thread(schedule.decide, schedule_spec(view, spec), state, now)
    _record_missed(ctx, view, spec, new, decision, now)

    if decision.action is schedule.Action.SKIP and decision.tick is not None:
        tick = format_time(decision.tick)
        if ctx.skips_reported.get(view.ref.key) != tick:
            ctx.skips_reported[view.ref.key] = tick
            metrics.SCHEDULE_SKIPPED.inc()
            ctx.post_event(view.ref, "JobAlreadyActive", f"Not starting the run for {tick}: {decision.reason}")
    created_this_pass = False
    if decision.action is schedule.Action.START and decision.tick is not None and decision.run_name:
        for name in decision.cancel:
            if name != decision.run_name:
                await _cancel(ctx, view, name)
        created = await _create(ctx, view, decision.run_name, TRIGGER_SCHEDULE, decision.tick)
        if not created and decision.run_name not in {r.name for r in runs}:
            # The name exists but is not ours (a leftover of an earlier TestJob of this name): not this tick's run.
            log.warning("tick_run_name_taken", testjob=view.name, run=decision.run_name)
        created_this_pass = created
        if created:
            metrics.SCHEDULED_RUNS.inc()
            late = (now - decision.tick).total_seconds()
            ctx.post_event(
                view.ref,
                "SuccessfulCreate",
                f"Created JobRun {decision.run_name} for {format_time(decision.tick)} ({late:.1f}s after the tick)",
            )
        new.last_schedule_time = format_time(decision.tick)

    await _apply_history(ctx, view, spec, runs)
    started = decision.run_name if created_this_pass else None
    fill_status(view, spec, new, runs, started, decision, now)
    await _write_status(ctx, view, new)
    await testjob_mirror.mirror(ctx.sessions, ctx.testjob_rows, view, spec, new, runs)
    return decision.seconds_until_next(now)


async def _create(ctx: TestJobScheduler, view: TestJobView, name: str, trigger: str, tick: datetime | None) -> bool:
    """Create the run; False when it already exists (this tick or token was acted on before)."""
    manifest = build_testjob_run(view.name, view.spec, name, trigger, view.job_id, view.title, tick)
    # The owner reference only, not kopf.adopt: adopt also copies the TestJob's labels, and a GitOps tool's
    # tracking label (Argo CD's app.kubernetes.io/instance) on a JobRun would make it prune our runs.
    # (List items carry no apiVersion/kind, which the reference needs.)
    owner = {**view.body, "apiVersion": API_VERSION, "kind": TESTJOB_KIND}
    kopf.append_owner_reference(manifest, owner=cast(kopf.Body, owner))
    try:
        await ctx.kube.create(run_path(JOBRUN, view.ref.namespace), manifest)
    except KubeError as exc:
        if exc.conflict:
            return False
        ctx.post_event(view.ref, "FailedCreate", f"Could not create JobRun {name}: {exc.message}", warning=True)
        raise CreateFailed(f"creating JobRun {name}: {exc}") from exc
    log.info("scheduled_run_created", testjob=view.name, namespace=view.ref.namespace, run=name, trigger=trigger)
    return True


async def _cancel(ctx: TestJobScheduler, view: TestJobView, name: str) -> None:
    try:
        await ctx.kube.merge_patch(run_path(JOBRUN, view.ref.namespace, name), {"spec": {"cancel": True}})
    except KubeError as exc:
        if not exc.not_found:
            raise
        return
    ctx.post_event(view.ref, "SuccessfulCancel", f"Cancelled JobRun {name} (concurrencyPolicy Replace)")


def _record_missed(
    ctx: TestJobScheduler,
    view: TestJobView,
    spec: TestJobSpec,
    new: TestJobStatus,
    decision: schedule.Decision,
    now: datetime,
) -> None:
    missed = missed_ticks(spec, decision, now)
    if missed is None:
        if decision.action is schedule.Action.START:
            set_condition(new, "MissedSchedule", "False", "OnTime", "the last tick started on time", now)
        return
    seen = ctx.missed_reported.get(view.ref.key)
    fresh = [t for t in decision.missed if seen is None or t > seen]
    if fresh:  # counted once each, however often the condition is rewritten
        metrics.SCHEDULE_MISSED.inc(len(fresh))
        ctx.missed_reported[view.ref.key] = max(fresh)
    previous = next((c for c in view.status.conditions if c.type == "MissedSchedule"), None)
    if previous is None or previous.message != missed.message:
        ctx.post_event(view.ref, "MissSchedule", f"{missed.reason}: {missed.message}", warning=True)
        log.warning(
            "ticks_missed", testjob=view.name, namespace=view.ref.namespace, reason=missed.reason, detail=missed.message
        )
    set_condition(new, "MissedSchedule", "True", missed.reason, missed.message, now)


async def _apply_history(ctx: TestJobScheduler, view: TestJobView, spec: TestJobSpec, runs: Sequence[OwnedRun]) -> None:
    finished = [
        schedule.FinishedRun(r.name, r.phase is Phase.PASSED, r.completed_at or r.created or view.created)
        for r in runs
        if r.finished and not r.deleting
    ]
    doomed = schedule.runs_beyond_history(finished, spec.successful_runs_history_limit, spec.failed_runs_history_limit)
    for name in doomed:
        # Background: the run's pod and ConfigMap go with it; its history stays in the database.
        await ctx.kube.delete(run_path(JOBRUN, view.ref.namespace, name), propagation="Background")
        ctx.post_event(view.ref, "SuccessfulDelete", f"Deleted finished JobRun {name} (history limits)")


async def _invalid(ctx: TestJobScheduler, view: TestJobView, new: TestJobStatus, reason: str, now: datetime) -> None:
    before = next((c for c in view.status.conditions if c.type == "Scheduled"), None)
    if before is None or before.reason != "InvalidSchedule" or before.message != reason:
        ctx.post_event(view.ref, "InvalidSchedule", reason, warning=True)
    invalid_status(view, new, reason, now)
    await _write_status(ctx, view, new)


async def _write_status(ctx: TestJobScheduler, view: TestJobView, new: TestJobStatus) -> None:
    patch = status_patch(view.status_raw, new)
    if not patch:
        return
    try:
        await ctx.kube.merge_patch(paths.item_path(view.ref.namespace, view.name, "status"), {"status": patch})
    except KubeError as exc:
        if not exc.not_found:  # deleted meanwhile
            raise
