"""Reuse the API unit fixtures (migrated SQLite, fake launcher, live uvicorn) for browser-level checks, plus the
same settings on a fresh, migrated Postgres database for the tests that need it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supertest.db import migrate as db_migrate
from supertest.db.engine import make_engine, make_session_factory
from supertest.settings import ApiSettings
from tests.unit.api.conftest import (
    anon,
    api_key,
    bus,
    client,
    db,
    home,
    launcher,
    live,
    make_settings,
    migrated_template,
    settings,
)

__all__ = [
    "anon",
    "api_key",
    "bus",
    "client",
    "db",
    "home",
    "launcher",
    "live",
    "migrated_template",
    "settings",
]


@pytest.fixture
def pg_settings(tmp_path: Path, fresh_postgres_db: Callable[[], str]) -> ApiSettings:
    url = fresh_postgres_db()
    db_migrate.upgrade(url)
    return make_settings(tmp_path, DATABASE_URL=url)


@pytest.fixture
def pg(pg_settings: ApiSettings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(pg_settings.effective_database_url)
    yield make_session_factory(engine)
    engine.dispose()
