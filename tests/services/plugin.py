"""Pytest fixtures for the real backing services; enable with `pytest_plugins = ["tests.services.plugin"]`.

Each server starts on first use, once per session (per xdist worker), on a free loopback port in a temp
dir, and stops at session end. A server that cannot start fails the tests that need it, never skips them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.services.postgres import PostgresServer
from tests.services.redis_server import RedisServer
from tests.services.s3 import S3Server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer.start() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL of the session's shared database."""
    return postgres_server.url


@pytest.fixture
def fresh_postgres_db(postgres_server: PostgresServer) -> Iterator[Callable[[], str]]:
    """Factory: each call creates an empty database and returns its URL; all are dropped after the test.
    For one database per module, call postgres_server.create_database() in a module-scoped fixture."""
    created: list[str] = []

    def create() -> str:
        url = postgres_server.create_database()
        created.append(url.rsplit("/", 1)[1])
        return url

    yield create
    for name in created:
        postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer.start() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """versitygw, built from source on first use (a few minutes cold, then cached outside the repo)."""
    with S3Server.start() as server:
        yield server
