"""Per-test history the operator reads at admission: quarantined test ids and files' past durations.

Both are advice, never a reason to hold a run: without a database, or while it is down, a run gets no quarantine
(every failure counts, as without the feature) and no durations (its shards are spread round-robin).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

import structlog
from sqlalchemy.orm import Session

from supertest.db import test_results
from supertest.db.engine import session_scope
from supertest_operator.context import OperatorContext

log = structlog.get_logger("supertest.operator.history")
T = TypeVar("T")


async def _read(ctx: OperatorContext, what: str, query: Callable[[Session], T], empty: T) -> T:
    sessions = ctx.sessions
    if sessions is None:
        return empty

    def read() -> T:
        with session_scope(sessions) as session:
            return query(session)

    try:
        return await asyncio.to_thread(read)
    except Exception as exc:
        log.warning(f"{what}_unavailable", error=str(exc).splitlines()[0] if str(exc) else repr(exc))
        return empty


async def quarantined_ids(ctx: OperatorContext) -> list[str]:
    return await _read(ctx, "quarantine", lambda s: sorted(test_results.quarantined_ids(s)), [])


async def file_durations(ctx: OperatorContext, files: Sequence[str]) -> dict[str, float]:
    """Median duration (ms) of each file over its recent runs; files with no history are absent."""
    return await _read(ctx, "durations", lambda s: test_results.median_durations(s, files, by="file"), {})
