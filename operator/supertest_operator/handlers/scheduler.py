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
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import kopf
import structlog
from pydantic import ValidationError

from supertest import schedule
from supertest.kube import testjobs as paths
from supertest.kube.client import KubeError, run_path
from supertest.kube.models import ActiveRun, TestJobCondition, TestJobSpec, TestJobStatus, format_time, parse_time
from supertest.kube.names import API_VERSION, JOBRUN, LABEL_TESTJOB, TESTJOB_KIND
from supertest.phases import Phase
from supertest_operator import metrics
from supertest_operator.builders import build_testjob_run
from supertest_operator.cluster import runs_path
from supertest_operator.context import OperatorContext
from supertest_operator.handlers import testjob_mirror
from supertest_operator.testjob import (
    TRIGGER_MANUAL,
    TRIGGER_SCHEDULE,
    OwnedRun,
    TestJobView,
    manual_run_name,
    manual_token,
)

log = structlog.get_logger("supertest.operator.scheduler")

# The longest the scheduler sleeps without a wake-up (a new TestJob or a run change wakes it at once).
MAX_SLEEP_SECONDS = 30.0
# After a failed create (queue full, apiserver error) the tick is retried this soon, within its deadline.
RETRY_SECONDS = 5.0
P = TypeVar("P")
CONCURRENT_RECONCILES = 16
MAX_ACTIVE_LISTED = 100


class CreateFailed(Exception):
    pass


async def schedule_pass(ctx: OperatorContext, now: datetime | None = None) -> float:
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
    await testjob_mirror.forget_vanished(ctx, present)
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


async def reconcile(ctx: OperatorContext, view: TestJobView, runs: Sequence[OwnedRun], now: datetime) -> float:
    new = view.status.model_copy(deep=True)
    try:
        spec = TestJobSpec.model_validate(dict(view.spec))
        schedule.validate(spec.schedule, spec.time_zone)
    except (ValidationError, schedule.InvalidSchedule) as exc:
        await _invalid(ctx, view, new, _first_error(exc), now)
        return MAX_SLEEP_SECONDS
    active = [r for r in runs if r.active]

    token = manual_token(view.run_now) if view.run_now is not None else None
    if token is not None and token != view.status.last_manual_run:
        name = manual_run_name(view.name, token)
        if await _create(ctx, view, name, TRIGGER_MANUAL, None):
            ctx.post_event(view.ref, "ManualRun", f"Created JobRun {name} (annotation supertest.dev/run-now)")
        new.last_manual_run = token

    state = _schedule_state(view, runs, active, now)
    if state.last_schedule_time is not None:
        new.last_schedule_time = format_time(state.last_schedule_time)
    # In a thread: after a long outage the tick walk is long, and the event loop also renews the leader lease.
    decision = await asyncio.to_thread(schedule.decide, _schedule_spec(view, spec), state, now)
    _record_missed(ctx, view, spec, new, decision, now)

    if decision.action is schedule.Action.SKIP and decision.tick is not None:
        tick = format_time(decision.tick)
        if ctx.skips_reported.get(view.ref.key) != tick:
            ctx.skips_reported[view.ref.key] = tick
            metrics.SCHEDULE_SKIPPED.inc()
            ctx.post_event(view.ref, "JobAlreadyActive", f"Not starting the run for {tick}: {decision.reason}")
    created_this_pass = False
    if decision.action is schedule.Action.SKIP:
        pass
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
    _fill_status(view, spec, new, runs, started, decision, now)
    await _write_status(ctx, view, new)
    await testjob_mirror.mirror(ctx, view, spec, new, runs)
    return decision.seconds_until_next(now)


def _schedule_spec(view: TestJobView, spec: TestJobSpec) -> schedule.ScheduleSpec:
    return schedule.ScheduleSpec(
        name=view.name,
        expression=spec.schedule,
        time_zone=spec.time_zone,
        concurrency_policy=schedule.ConcurrencyPolicy(spec.concurrency_policy),
        starting_deadline_seconds=spec.starting_deadline_seconds,
        suspend=spec.suspend,
    )


def _schedule_state(
    view: TestJobView, runs: Sequence[OwnedRun], active: Sequence[OwnedRun], now: datetime
) -> schedule.ScheduleState:
    # The newest tick any of its runs was created for also counts: status may lag a crash behind the create.
    # A time in the future is nobody's tick (a hand-edited status or annotation): it would stop the schedule.
    found = (parse_time(view.status.last_schedule_time), *(r.scheduled_at for r in runs))
    ticks = [t for t in found if t is not None and t <= now]
    return schedule.ScheduleState(
        created_at=view.created,
        last_schedule_time=max(ticks) if ticks else None,
        active=[r.name for r in active],
    )


async def _create(ctx: OperatorContext, view: TestJobView, name: str, trigger: str, tick: datetime | None) -> bool:
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


async def _cancel(ctx: OperatorContext, view: TestJobView, name: str) -> None:
    try:
        await ctx.kube.merge_patch(run_path(JOBRUN, view.ref.namespace, name), {"spec": {"cancel": True}})
    except KubeError as exc:
        if not exc.not_found:
            raise
        return
    ctx.post_event(view.ref, "SuccessfulCancel", f"Cancelled JobRun {name} (concurrencyPolicy Replace)")


def _record_missed(
    ctx: OperatorContext,
    view: TestJobView,
    spec: TestJobSpec,
    new: TestJobStatus,
    decision: schedule.Decision,
    now: datetime,
) -> None:
    if not decision.missed and not decision.too_many_missed:
        if decision.action is schedule.Action.START:
            _set_condition(new, "MissedSchedule", "False", "OnTime", "the last tick started on time", now)
        return
    newest = max(decision.missed) if decision.missed else None
    deadline = spec.starting_deadline_seconds
    if decision.too_many_missed:
        reason = "TooManyMissedTicks"
    elif deadline is not None and newest is not None and newest < now - timedelta(seconds=deadline):
        reason = "StartingDeadlineExceeded"
    else:
        reason = "SupersededTicks"  # older unmet ticks: CronJob runs only the most recent one
    when = format_time(newest) if newest else "unknown"
    message = f"{len(decision.missed)} tick(s) not run, the newest at {when}"
    if deadline is not None:
        message += f" (startingDeadlineSeconds={deadline})"
    seen = ctx.missed_reported.get(view.ref.key)
    fresh = [t for t in decision.missed if seen is None or t > seen]
    if fresh:  # counted once each, however often the condition is rewritten
        metrics.SCHEDULE_MISSED.inc(len(fresh))
        ctx.missed_reported[view.ref.key] = max(fresh)
    previous = next((c for c in view.status.conditions if c.type == "MissedSchedule"), None)
    if previous is None or previous.message != message:
        ctx.post_event(view.ref, "MissSchedule", f"{reason}: {message}", warning=True)
        log.warning("ticks_missed", testjob=view.name, namespace=view.ref.namespace, reason=reason, detail=message)
    _set_condition(new, "MissedSchedule", "True", reason, message, now)


async def _apply_history(ctx: OperatorContext, view: TestJobView, spec: TestJobSpec, runs: Sequence[OwnedRun]) -> None:
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


def _fill_status(
    view: TestJobView,
    spec: TestJobSpec,
    new: TestJobStatus,
    runs: Sequence[OwnedRun],
    started: str | None,
    decision: schedule.Decision,
    now: datetime,
) -> None:
    live = sorted((r for r in runs if r.active), key=lambda r: r.name)
    new.active = [ActiveRun(name=r.name, uid=r.uid or None) for r in live]
    if started and started not in {r.name for r in live}:
        new.active.append(ActiveRun(name=started))
    new.active = new.active[:MAX_ACTIVE_LISTED]  # the CRD's maxItems; an Allow backlog can be longer
    passed = [r.completed_at for r in runs if r.phase is Phase.PASSED and r.completed_at]
    known = parse_time(view.status.last_successful_time)
    newest = max([*passed, *([known] if known else [])], default=None)
    new.last_successful_time = format_time(newest) if newest else None
    if spec.suspend:
        new.next_schedule_time = None
        _set_condition(new, "Scheduled", "False", "Suspended", "spec.suspend is true: no new scheduled runs", now)
        new.message = "suspended"
    else:
        new.next_schedule_time = format_time(decision.next_tick) if decision.next_tick else None
        _set_condition(new, "Scheduled", "True", "Scheduled", f"schedule {spec.schedule!r} in {spec.time_zone}", now)
        new.message = f"next run at {new.next_schedule_time}" if new.next_schedule_time else ""
    new.observed_generation = view.generation


async def _invalid(ctx: OperatorContext, view: TestJobView, new: TestJobStatus, reason: str, now: datetime) -> None:
    before = next((c for c in view.status.conditions if c.type == "Scheduled"), None)
    if before is None or before.reason != "InvalidSchedule" or before.message != reason:
        ctx.post_event(view.ref, "InvalidSchedule", reason, warning=True)
    _set_condition(new, "Scheduled", "False", "InvalidSchedule", reason, now)
    new.next_schedule_time = None
    new.message = reason[:4096]
    new.observed_generation = view.generation
    await _write_status(ctx, view, new)


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"spec.{where}: {first.get('msg')}" if where else str(first.get("msg"))
    return str(exc)


def _set_condition(status: TestJobStatus, kind: Any, state: Any, reason: str, message: str, now: datetime) -> None:
    """Replace the condition of this type; its lastTransitionTime moves only when its status changes."""
    old = next((c for c in status.conditions if c.type == kind), None)
    since = old.last_transition_time if old is not None and old.status == state else format_time(now)
    fresh = TestJobCondition.model_validate(
        {"type": kind, "status": state, "reason": reason, "message": message[:32768], "lastTransitionTime": since}
    )
    status.conditions = sorted([c for c in status.conditions if c.type != kind] + [fresh], key=lambda c: c.type)


def status_patch(before: Mapping[str, Any], after: TestJobStatus) -> dict[str, Any]:
    """A merge patch from the stored status to `after`; keys that vanished become null (merge-patch removal)."""
    target = after.to_patch()
    patch: dict[str, Any] = {k: v for k, v in target.items() if before.get(k) != v and (v != [] or k in before)}
    for key in before:
        if key not in target:
            patch[key] = None
    return patch


async def _write_status(ctx: OperatorContext, view: TestJobView, new: TestJobStatus) -> None:
    patch = status_patch(view.status_raw, new)
    if not patch:
        return
    try:
        await ctx.kube.merge_patch(paths.item_path(view.ref.namespace, view.name, "status"), {"status": patch})
    except KubeError as exc:
        if not exc.not_found:  # deleted meanwhile
            raise
