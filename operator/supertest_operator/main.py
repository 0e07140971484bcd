"""The kopf registry: decorators only, each delegating to its body in `handlers/`.

Run with `python -m supertest_operator` (or `supertest operator`; both call `app.run()`), or
`kopf run -m supertest_operator.main --standalone --namespace NS` (settings then come from the environment).
"""

from __future__ import annotations

from typing import Any

import kopf

from supertest.kube.counting import is_waiting
from supertest.kube.names import ANNOTATION_RERUN, GROUP, LABEL_RUN, LABEL_TESTJOB, TESTJOB_PLURAL, VERSION
from supertest_operator import startup
from supertest_operator.builders import MERGE
from supertest_operator.context import OperatorContext
from supertest_operator.handlers import pod_status, rerun, run_events, shards, testjob_webhook, webhook


def _ctx(memo: Any) -> OperatorContext:
    ctx: OperatorContext = memo.ctx
    return ctx


@kopf.on.startup()
async def operator_startup(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    await startup.on_startup(settings, memo)


@kopf.on.login()
async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    return await startup.login(**kwargs)


@kopf.on.cleanup()
async def operator_cleanup(memo: Any, **_: Any) -> None:
    await startup.on_cleanup(memo)


def _waits(body: kopf.Body, **_: Any) -> bool:
    # A filter, not a None result: kopf keeps an object's old index value when the handler returns None.
    return is_waiting(body)


# Coroutines, not plain functions: kopf runs a plain function in its thread pool, a hop per watch event.
@kopf.index(GROUP, VERSION, "testruns", when=_waits)
async def waiting_testruns(body: kopf.Body, **_: Any) -> dict[str, tuple[str, str]]:
    return webhook.waiting_index_entry(body)


@kopf.index(GROUP, VERSION, "jobruns", when=_waits)
async def waiting_jobruns(body: kopf.Body, **_: Any) -> dict[str, tuple[str, str]]:
    return webhook.waiting_index_entry(body)


@kopf.on.validate(GROUP, VERSION, "testruns", id="queue-capacity-testruns", operations=["CREATE"], ignore_failures=True)
@kopf.on.validate(GROUP, VERSION, "jobruns", id="queue-capacity-jobruns", operations=["CREATE"], ignore_failures=True)
async def queue_capacity(body: kopf.Body, resource: kopf.Resource, dryrun: bool, memo: Any, **kwargs: Any) -> None:
    # Indexes arrive as kwargs named after their functions above.
    waiting = webhook.waiting_names(kwargs["waiting_testruns"], kwargs["waiting_jobruns"])
    await webhook.validate_queue(memo.webhook, resource.plural, body, kwargs.get("operation"), dryrun, waiting)


# failurePolicy Ignore, as testjob_webhook says: an operator that is down (or uninstalled, its configuration left
# behind) must not block TestJobs; the scheduler reports a bad schedule on the TestJob itself.
@kopf.on.validate(
    GROUP, VERSION, TESTJOB_PLURAL, id="testjob-schedule", operations=["CREATE", "UPDATE"], ignore_failures=True
)
async def testjob_schedule(body: kopf.Body, **_: Any) -> None:
    testjob_webhook.validate(body)


@kopf.on.event(GROUP, VERSION, TESTJOB_PLURAL)
@kopf.on.event(GROUP, VERSION, "jobruns", labels={LABEL_TESTJOB: kopf.PRESENT}, id="testjob_run_event")
async def testjob_event(memo: Any, **_: Any) -> None:
    _ctx(memo).schedule_wake.set()


@kopf.on.event(GROUP, VERSION, "testruns")
@kopf.on.event(GROUP, VERSION, "jobruns")
async def run_event(type: str | None, body: kopf.Body, resource: kopf.Resource, memo: Any, **_: Any) -> None:
    await run_events.on_run_event(_ctx(memo), memo.webhook, type, resource.plural, body)


@kopf.on.event(GROUP, VERSION, "testruns", annotations={ANNOTATION_RERUN: kopf.PRESENT}, id="rerun_testruns")
@kopf.on.event(GROUP, VERSION, "jobruns", annotations={ANNOTATION_RERUN: kopf.PRESENT}, id="rerun_jobruns")
async def rerun_requested(type: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
    if type != "DELETED":
        await rerun.on_rerun_annotation(_ctx(memo), body)


@kopf.on.event("", "v1", "pods", labels={LABEL_RUN: kopf.PRESENT})
async def run_pod_event(type: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
    if shards.shard_label(body) not in (None, MERGE):  # a shard's pod; the merge pod speaks for its run
        ref = pod_status.run_ref_of(body)
        if ref is not None:
            await shards.on_shard_pod(_ctx(memo), ref, body, type == "DELETED")
        return
    await pod_status.on_pod_event(_ctx(memo), type, body)
