"""Engine construction; SQLite gets WAL and IMMEDIATE transactions so capacity checks serialise."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    # At most 30 connections as before, but 20 of them kept: an overflow connection is closed when it comes back,
    # and under 50 concurrent submissions the API was reconnecting (TCP and SCRAM auth) on most requests.
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=10, **kwargs)


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
