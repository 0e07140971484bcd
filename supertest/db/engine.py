"""Engine construction; SQLite gets WAL and IMMEDIATE transactions so capacity checks serialise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


# A pooled connection unused for longer than this is pinged before it is handed out (see _ping_when_idle).
IDLE_PING_SECONDS = 10.0
# And none is kept longer than this: a server-side idle timeout or a failover never meets a connection that old.
POOL_RECYCLE_SECONDS = 1800


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    # At most 30 connections as before, but 20 of them kept: an overflow connection is closed when it comes back,
    # and under 50 concurrent submissions the API was reconnecting (TCP and SCRAM auth) on most requests.
    engine = create_engine(url, pool_size=20, max_overflow=10, pool_recycle=POOL_RECYCLE_SECONDS, **kwargs)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """pool_pre_ping, but only for a connection that sat in the pool for IDLE_PING_SECONDS.

    pool_pre_ping cost a round trip (and a wait for the GIL) on every checkout, two per submission. A connection
    in steady use was working a moment ago; one that has been idle is where a restarted server or a dropped TCP
    connection shows, so that one is checked, and a dead one is replaced before anyone uses it. A connection
    that dies while in use fails that request once (503), and SQLAlchemy then invalidates the whole pool.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return  # new, or back in the pool a moment ago
        try:
            if not engine.dialect.do_ping(dbapi_conn):
                raise exc.DisconnectionError("idle connection failed its ping")
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out (or opens) another.
            raise exc.DisconnectionError(f"idle connection failed its ping: {error}") from error


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, issue BEGIN, so we can make it IMMEDIATE.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session, session.begin():
        yield session


async def in_session(factory: sessionmaker[Session], fn: Callable[[Session], T]) -> T:
    """`fn` in one transaction on a worker thread: the database's latency never blocks the event loop."""

    def call() -> T:
        with session_scope(factory) as session:
            return fn(session)

    return await asyncio.to_thread(call)


def ping(engine: Engine) -> None:
    """One round trip to the database (readiness); raises when it cannot be reached."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


class AsyncConnections:
    """A few psycopg async connections to an engine's database, for the statements the event loop sends itself
    (the enqueue, runs.enqueue_async): no worker thread, so no hop to it and no wait for the GIL to come back.

    At most `size` at once (more callers wait their turn); a connection is opened on first need and kept while
    its transaction ends cleanly; one in any other state is closed, never reused. As with the engine's pool, a
    connection idle for IDLE_PING_SECONDS is pinged first and replaced if the server has gone away.
    """

    def __init__(self, engine: Engine, size: int = 4) -> None:
        # The engine's own URL and connect arguments, so both reach the same server the same way.
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        self._connect_args: tuple[Any, ...] = tuple(args)
        self._connect_kwargs: dict[str, Any] = dict(kwargs)
        self._size = size
        self._slots: asyncio.Semaphore | None = None
        self._idle: list[tuple[float, psycopg.AsyncConnection[Any]]] = []

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._size)
        async with self._slots:
            conn = await self._checkout()
            try:
                yield conn
            finally:
                if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
                    await conn.close()
                else:
                    self._idle.append((time.monotonic(), conn))

    async def _checkout(self) -> psycopg.AsyncConnection[Any]:
        while self._idle:
            idle_since, conn = self._idle.pop()
            if time.monotonic() - idle_since < IDLE_PING_SECONDS:
                return conn
            try:
                await conn.execute("SELECT 1")
                await conn.rollback()
                return conn
            except psycopg.Error:
                await conn.close()
        opened: psycopg.AsyncConnection[Any] = await psycopg.AsyncConnection.connect(
            *self._connect_args, **self._connect_kwargs
        )
        return opened

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, conn in idle:
            await conn.close()
