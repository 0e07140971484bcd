"""Liveness is the process; readiness is the database, its schema and the event bus."""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool

from supertest.db.engine import ping
from supertest.db.migrate import current_revision, head_revision
from supertest_api.health.schemas import CheckOut, ReadyOut
from supertest_api.resources import AppResources

CHECK_TIMEOUT_SECONDS = 3.0
# history() of a run that never exists: a real round trip to Redis that reads nothing.
_PROBE_RUN_ID = "readyz-probe"


async def _check_database(res: AppResources) -> dict[str, CheckOut]:
    try:
        await asyncio.wait_for(run_in_threadpool(ping, res.engine), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        return {"database": CheckOut(ok=False, message=f"unreachable: {exc}"), "schema": CheckOut(ok=False)}
    checks = {"database": CheckOut(ok=True)}
    current, head = await run_in_threadpool(lambda: (current_revision(res.engine), head_revision()))
    if current == head:
        checks["schema"] = CheckOut(ok=True, message=f"at head {head}")
    else:
        checks["schema"] = CheckOut(ok=False, message=f"at {current}, head is {head}: run `supertest migrate`")
    return checks


async def _check_bus(res: AppResources) -> CheckOut:
    try:
        await asyncio.wait_for(res.bus.history(_PROBE_RUN_ID), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        return CheckOut(ok=False, message=f"unreachable: {exc}")
    return CheckOut(ok=True)


async def readiness(res: AppResources) -> ReadyOut:
    checks = await _check_database(res)
    checks["bus"] = await _check_bus(res)
    ready = all(c.ok for c in checks.values())
    return ReadyOut(status="ready" if ready else "not ready", checks=checks)
