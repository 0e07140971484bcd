"""Liveness is the process; readiness is each dependency the API talks to, named, with a fixed reason.

/readyz is unauthenticated, so a check's message never carries what the exception said (hostnames, users,
paths, driver text): the reason is one of a few fixed phrases, and the detail goes to the log for operators.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from starlette.concurrency import run_in_threadpool

from supertest.artifacts import ArtifactNotFound
from supertest.db.engine import ping
from supertest.db.migrate import current_revision, head_revision
from supertest.kube.client import run_path
from supertest.kube.names import TESTRUN
from supertest_api.health.schemas import CheckOut, ReadyOut
from supertest_api.resources import AppResources

log = structlog.get_logger("supertest.api.health")

CHECK_TIMEOUT_SECONDS = 3.0
# Reads of things that never exist: a real round trip that touches nothing.
_PROBE_RUN_ID = "readyz-probe"
_PROBE_KEY = "readyz-probe/none"

UNREACHABLE = "unreachable"
TIMED_OUT = f"no answer within {CHECK_TIMEOUT_SECONDS:g}s"


async def _probe(name: str, call: Callable[[], Awaitable[object]]) -> CheckOut:
    try:
        await asyncio.wait_for(call(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning("readiness check timed out", dependency=name)
        return CheckOut(ok=False, message=TIMED_OUT)
    except Exception as exc:
        log.warning("readiness check failed", dependency=name, error=f"{type(exc).__name__}: {exc}")
        return CheckOut(ok=False, message=UNREACHABLE)
    return CheckOut(ok=True)


async def _check_database(res: AppResources) -> dict[str, CheckOut]:
    database = await _probe("database", lambda: run_in_threadpool(ping, res.engine))
    if not database.ok:
        return {"database": database, "schema": CheckOut(ok=False, message="database unreachable")}
    current, head = await run_in_threadpool(lambda: (current_revision(res.engine), head_revision()))
    if current == head:
        return {"database": database, "schema": CheckOut(ok=True, message=f"at head {head}")}
    return {
        "database": database,
        "schema": CheckOut(ok=False, message=f"at {current}, head is {head}: run `supertest migrate`"),
    }


def _stat_probe(res: AppResources) -> None:
    try:
        res.store_for("test").stat(_PROBE_KEY)
    except ArtifactNotFound:
        return  # the store answered


async def _check_kubernetes(res: AppResources) -> None:
    kube = getattr(res.launcher, "kube", None)
    if kube is None:
        raise RuntimeError(f"launcher {type(res.launcher).__name__} has no Kubernetes client")
    # A one-item list of the API's own TestRuns: reachable, authenticated, allowed, and the CRD installed.
    await kube.request("GET", run_path(TESTRUN, res.settings.kube_namespace), query={"limit": 1})


async def readiness(res: AppResources) -> ReadyOut:
    settings = res.settings
    checks = await _check_database(res)
    # Named for what is actually behind them, so "redis: unreachable" is the whole diagnosis.
    checks["redis" if settings.redis_url else "events"] = await _probe("redis", lambda: res.bus.history(_PROBE_RUN_ID))
    checks["s3" if settings.s3_endpoint else "artifacts"] = await _probe(
        "s3", lambda: run_in_threadpool(_stat_probe, res)
    )
    if not settings.is_local:
        checks["kubernetes"] = await _probe("kubernetes", lambda: _check_kubernetes(res))
    ready = all(c.ok for c in checks.values())
    return ReadyOut(status="ready" if ready else "not ready", checks=checks)
