"""`kubectl annotate tr/x supertest.dev/rerun=failed`: create a run of x's failed tests, linked to x.

The failed tests come from test_results, which the database mirror records once x is terminal and its results are
stored; the annotation may come before that (or before x finishes), so the handler acts when both are true, on
a later event of x if need be. Done once: the re-run's name is derived from x's, a second create is a 409, and x
then carries `supertest.dev/rerun-run: <name>` (plus an Event), with the request annotation removed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import structlog

from supertest.db import test_results
from supertest.db.engine import session_scope
from supertest.kube.client import KubeError, run_path
from supertest.kube.names import ANNOTATION_RERUN, ANNOTATION_RERUN_RUN
from supertest.rerun import NothingToRerun, TooManyToRerun, check_rerunnable
from supertest_operator.builders import build_rerun, rerun_name
from supertest_operator.context import OperatorContext
from supertest_operator.run import RunView
from supertest_operator.status_writer import read_body

log = structlog.get_logger("supertest.operator.rerun")
RERUN_FAILED = "failed"
# How long a terminal run with failures may wait for its test_results rows (the mirror writes them after the
# terminal status, off the event loop) before the handler says it found none.
RESULTS_WAIT_SECONDS = 30.0
RESULTS_POLL_SECONDS = 1.0


async def on_rerun_annotation(ctx: OperatorContext, body: Mapping[str, Any]) -> None:
    view = RunView.from_body(body)
    value = view.annotations.get(ANNOTATION_RERUN)
    if value is None or view.deleting:
        return
    # Its own lock, not the run's: the wait for results must not hold up the run's other handlers.
    async with ctx.run_lock(("rerun", view.ref.namespace, view.name)):
        await _rerun(ctx, view, value)


def resume(ctx: OperatorContext, views: list[RunView]) -> None:
    """Rerun requests made while no leader watched (the operator down, a standby taking over): in the background."""
    for view in views:
        if ANNOTATION_RERUN in view.annotations and not view.deleting:
            ctx.spawn(_resume_one(ctx, view), name=f"rerun-{view.name}")


async def _resume_one(ctx: OperatorContext, view: RunView) -> None:
    body = await read_body(ctx, view.ref)  # the cached view is slim: the re-run copies the whole spec
    if body is not None:
        await on_rerun_annotation(ctx, body)


async def _rerun(ctx: OperatorContext, view: RunView, value: str) -> None:
    if value != RERUN_FAILED:
        ctx.post_event(view.ref, "RerunRefused", f"{ANNOTATION_RERUN}={value!r}: only 'failed' is supported", True)
        await _done(ctx, view, None)
        return
    if view.phase is None or not view.phase.is_terminal:
        return  # acted on at the event that makes it terminal
    if ctx.sessions is None:
        ctx.post_event(view.ref, "RerunRefused", "re-run failed needs the database (test_results)", True)
        await _done(ctx, view, None)
        return
    failed = await _failed_tests(ctx, view)
    try:
        check_rerunnable(view.name, view.phase.value, failed)
    except (NothingToRerun, TooManyToRerun) as exc:
        ctx.post_event(view.ref, "RerunRefused", str(exc), True)
        await _done(ctx, view, None)
        return
    name = rerun_name(view.name, view.ref.uid)
    manifest = build_rerun(view.ref, view.spec, view.title, name, failed)
    try:
        await ctx.kube.create(run_path(view.ref.resource, view.ref.namespace), manifest)
    except KubeError as exc:
        if not exc.conflict:  # a 409 is the re-run an earlier event made: record it as done
            ctx.post_event(view.ref, "RerunFailed", f"could not create {name}: {exc.message or exc.reason}", True)
            return
    ctx.post_event(view.ref, "RerunCreated", f"Created {view.ref.kind} {name} of the {len(failed)} failed test(s)")
    log.info("rerun_created", run=view.name, rerun=name, tests=len(failed))
    await _done(ctx, view, name)


async def _failed_tests(ctx: OperatorContext, view: RunView) -> list[str]:
    sessions = ctx.sessions
    assert sessions is not None

    def read() -> list[str]:
        with session_scope(sessions) as session:
            return test_results.failed_ids_for_run(session, view.name)

    deadline = asyncio.get_running_loop().time() + RESULTS_WAIT_SECONDS
    expect_rows = bool(view.status.summary and view.status.summary.failed)
    while True:
        failed = await asyncio.to_thread(read)
        if failed or not expect_rows or asyncio.get_running_loop().time() >= deadline:
            return failed
        await asyncio.sleep(RESULTS_POLL_SECONDS)  # polling the mirror's write against a deadline


async def _done(ctx: OperatorContext, view: RunView, rerun: str | None) -> None:
    """Remove the request; record the re-run's name when there is one."""
    annotations: dict[str, str | None] = {ANNOTATION_RERUN: None}
    if rerun is not None:
        annotations[ANNOTATION_RERUN_RUN] = rerun
    try:
        await ctx.kube.merge_patch(
            run_path(view.ref.resource, view.ref.namespace, view.name), {"metadata": {"annotations": annotations}}
        )
    except KubeError as exc:
        if not exc.not_found:
            raise
