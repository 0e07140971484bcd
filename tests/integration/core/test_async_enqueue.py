"""The enqueue the local launcher sends from the event loop on Postgres (runs.enqueue_async over
engine.AsyncConnections): the same exact capacity as the session path, sharing its lock, and connections that
survive refusals but never a broken transaction or a restarted server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from supertest.admission import QueueFull
from supertest.db import engine as db_engine
from supertest.db import runs as run_repo
from supertest.db.engine import AsyncConnections, session_scope
from supertest.db.models import RunRecord
from supertest.phases import Phase
from tests.integration.core.test_repositories import keyed_run, new_run

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


@pytest.fixture
async def conns(sessions: sessionmaker[Session]) -> AsyncIterator[AsyncConnections]:
    engine = sessions.kw["bind"]
    assert isinstance(engine, Engine)
    pool = AsyncConnections(engine, size=4)
    yield pool
    await pool.close()


async def _enqueue(conns: AsyncConnections, run: RunRecord, capacity: int) -> RunRecord:
    async with conns.connection() as conn:
        return await run_repo.enqueue_async(conn, run, capacity)


async def test_async_and_session_submissions_together_fill_the_queue_exactly(
    conns: AsyncConnections, sessions: sessionmaker[Session]
) -> None:
    def by_session() -> RunRecord:
        with session_scope(sessions) as s:
            return run_repo.enqueue(s, new_run(title="burst"), queued_capacity=10)

    attempts = [_enqueue(conns, new_run(title="burst"), 10) for _ in range(60)]
    attempts += [asyncio.to_thread(by_session) for _ in range(20)]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    accepted = [r for r in results if isinstance(r, RunRecord)]
    refused = [r for r in results if isinstance(r, QueueFull)]
    assert (len(accepted), len(refused)) == (10, 70)
    assert {(e.queued, e.capacity) for e in refused} == {(10, 10)}
    assert all(r.phase == "Queued" and r.attempts == 0 and r.created_at is not None for r in accepted)
    with session_scope(sessions) as s:
        assert run_repo.count_in_phases(s, [Phase.QUEUED]) == 10
        assert {r.id for r in s.query(RunRecord).filter(RunRecord.title == "burst")} == {r.id for r in accepted}


async def test_refusals_keep_the_connection_and_a_key_holds_one_run(
    conns: AsyncConnections, sessions: sessionmaker[Session]
) -> None:
    first = await _enqueue(conns, keyed_run("key-a", "k"), 2)
    with pytest.raises(run_repo.IdempotencyKeyTaken):
        await _enqueue(conns, keyed_run("key-a", "k"), 2)
    await _enqueue(conns, new_run(), 2)
    with pytest.raises(QueueFull):
        await _enqueue(conns, new_run(), 2)
    pids = set()
    for _ in range(3):
        async with conns.connection() as conn:
            pids.add((await (await conn.execute("SELECT pg_backend_pid()")).fetchone() or [0])[0])
            await conn.rollback()
    assert len(pids) == 1  # one caller at a time: the same connection each time, refusals did not close it
    with session_scope(sessions) as s:
        assert run_repo.find_by_idempotency_key(s, "key-a", "k").id == first.id  # type: ignore[union-attr]


async def _backend_of(conns: AsyncConnections) -> int:
    async with conns.connection() as conn:
        row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
        await conn.rollback()
    assert row is not None
    return int(row[0])


def _terminate(sessions: sessionmaker[Session], pid: int) -> None:
    with session_scope(sessions) as s:
        s.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})


async def test_a_connection_lost_in_use_fails_that_call_once_and_is_replaced(
    conns: AsyncConnections, sessions: sessionmaker[Session]
) -> None:
    _terminate(sessions, await _backend_of(conns))
    with pytest.raises(OperationalError):  # as the session path raises it: the API answers 503
        await _enqueue(conns, new_run(), 10)
    await _enqueue(conns, new_run(), 10)  # a new connection
    with session_scope(sessions) as s:
        assert run_repo.count_in_phases(s, [Phase.QUEUED]) == 1


async def test_an_idle_connection_is_pinged_and_a_dead_one_replaced_unseen(
    conns: AsyncConnections, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = await _backend_of(conns)
    _terminate(sessions, dead)
    monkeypatch.setattr(db_engine, "IDLE_PING_SECONDS", 0.0)  # every pooled connection counts as idle
    await _enqueue(conns, new_run(), 10)
    assert await _backend_of(conns) != dead
