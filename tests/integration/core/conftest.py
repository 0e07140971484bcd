"""Every core backend is tested twice: the embedded default and the real service behind it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supertest.artifacts import ArtifactStore, LocalArtifactStore
from supertest.artifacts.s3 import S3ArtifactStore
from supertest.bus import EventBus, MemoryEventBus, RedisEventBus
from supertest.db import migrate
from supertest.db.engine import make_engine, make_session_factory


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'core.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_db")()
    migrate.upgrade(url)
    return url


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    instance: EventBus
    if request.param == "memory":
        instance = MemoryEventBus(maxlen=50)
    else:
        instance = RedisEventBus(request.getfixturevalue("redis_url"), maxlen=50, ttl_seconds=120, block_ms=200)
    yield instance
    await instance.close()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path) -> ArtifactStore:
    instance: ArtifactStore
    if request.param == "local":
        instance = LocalArtifactStore(tmp_path / "artifacts")
    else:
        server = request.getfixturevalue("s3_server")
        instance = S3ArtifactStore(
            bucket=f"t-{uuid.uuid4().hex[:12]}",
            endpoint_url=server.endpoint,
            region=server.region,
            access_key=server.access_key,
            secret_key=server.secret_key,
        )
    instance.ensure_ready()
    return instance
