"""The engine pings a pooled Postgres connection only when it has been idle (engine._ping_when_idle): a dead idle
connection is replaced unseen; one in steady use is trusted, so its death costs one failed call."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from supertest.db import engine as db_engine
from supertest.db.engine import session_scope

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


def _backend(sessions: sessionmaker[Session]) -> int:
    with session_scope(sessions) as s:
        return int(s.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _kill_pooled_connection(sessions: sessionmaker[Session]) -> int:
    pid = _backend(sessions)  # the one connection the pool now holds
    engine = sessions.kw["bind"]
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    with psycopg.connect(*args, autocommit=True, **kwargs) as other:  # outside the pool
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    return pid


def test_a_dead_idle_connection_is_replaced_before_use(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_engine, "IDLE_PING_SECONDS", 0.0)
    dead = _kill_pooled_connection(sessions)
    assert _backend(sessions) != dead


def test_a_connection_in_steady_use_is_not_pinged(sessions: sessionmaker[Session]) -> None:
    _kill_pooled_connection(sessions)
    # Back in the pool a moment ago, so it is handed out as is: that call fails (the API answers 503) ...
    with pytest.raises(OperationalError):
        _backend(sessions)
    # ... and SQLAlchemy has dropped it: the next call gets a live connection.
    assert _backend(sessions) > 0
