"""The kopf registry: decorators only, each delegating to its body in `handlers/`.

Run with `python -m supertest_operator` (or `supertest operator`; both call `app.run()`), or
`kopf run -m supertest_operator.main --standalone --namespace NS` (settings then come from the environment).
"""

from __future__ import annotations

from typing import Any

import kopf

from supertest.kube.names import GROUP, TESTJOB_PLURAL, VERSION
from supertest_operator import startup
from supertest_operator.context import OperatorContext
from supertest_operator.handlers import testjob_webhook, webhook


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


@kopf.on.validate(GROUP, VERSION, "testruns", id="queue-capacity-testruns", operations=["CREATE"], ignore_failures=True)
@kopf.on.validate(GROUP, VERSION, "jobruns", id="queue-capacity-jobruns", operations=["CREATE"], ignore_failures=True)
async def queue_capacity(body: kopf.Body, resource: kopf.Resource, dryrun: bool, memo: Any, **kwargs: Any) -> None:
    # The waiting runs come from the run cache, not a kopf index: with an index, kopf holds every object's first
    # event until all of them are indexed, and the start-up list of a deep queue cost O(n^2) (profiled).
    waiting = _ctx(memo).runs.waiting_names()
    await webhook.validate_queue(memo.webhook, resource.plural, body, kwargs.get("operation"), dryrun, waiting)


# failurePolicy Ignore, as testjob_webhook says: an operator that is down (or uninstalled, its configuration left
# behind) must not block TestJobs; the scheduler reports a bad schedule on the TestJob itself.
@kopf.on.validate(
    GROUP, VERSION, TESTJOB_PLURAL, id="testjob-schedule", operations=["CREATE", "UPDATE"], ignore_failures=True
)
async def testjob_schedule(body: kopf.Body, **_: Any) -> None:
    testjob_webhook.validate(body)


# TestRuns, JobRuns and run pods are watched by watches.py, not by kopf (it says why): run events, a TestJob's runs
# among them, are dispatched by handlers/run_events.py; pod events go to handlers/pod_status.py and handlers/shards.py.
@kopf.on.event(GROUP, VERSION, TESTJOB_PLURAL)
async def testjob_event(memo: Any, **_: Any) -> None:
    _ctx(memo).schedule_wake.set()
