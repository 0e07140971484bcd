"""API unit fixtures: a migrated SQLite file per test, the in-process bus and a fake launcher.

The fake launcher enqueues rows with the real core functions (so queue capacity is enforced the
same way) but never starts a runner; tests move runs along by publishing events themselves.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from supertest_api.app import create_app
from supertest_api.artifacts_origin.app import create_artifacts_app

from supertest.bus.memory import MemoryEventBus
from supertest.db import apikeys
from supertest.db import migrate as db_migrate
from supertest.db import runs as run_repo
from supertest.db.engine import make_engine, make_session_factory, session_scope
from supertest.db.ids import new_run_id
from supertest.db.models import RunRecord
from supertest.events import RunEvent, status_event
from supertest.launch import RunAlreadyFinished, RunRequest
from supertest.phases import Phase
from supertest.settings import ApiSettings
from tests.k8s.wait import wait_for
from tests.support.api_thread import serving

T = TypeVar("T")


@dataclass
class FakeLauncher:
    settings: ApiSettings
    bus: MemoryEventBus
    submitted: list[RunRequest] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    started: bool = False
    stopped: bool = False

    def __post_init__(self) -> None:
        self.engine = make_engine(self.settings.effective_database_url)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.started = True

    async def stop(self) -> None:
        self.stopped = True
        self.engine.dispose()

    async def submit(self, request: RunRequest) -> RunRecord:
        record = run_repo.queued_record(new_run_id(request.kind), request)
        with session_scope(self.sessions) as session:
            run_repo.enqueue(session, record, self.settings.queued_capacity)
        self.submitted.append(request)
        await self.bus.publish(status_event(record.id, Phase.QUEUED, "waiting for a running slot"))
        return record

    async def cancel(self, run_id: str) -> RunRecord:
        with session_scope(self.sessions) as session:
            record = run_repo.get(session, run_id)
            if Phase(record.phase).is_terminal:
                raise RunAlreadyFinished(run_id, record.phase)
            run_repo.apply_phase(session, run_id, run_repo.PhaseUpdate(Phase.CANCELLED, "cancelled"))
        self.cancelled.append(run_id)
        await self.bus.publish(status_event(run_id, Phase.CANCELLED, "cancelled"))
        return record

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop (the bus's conditions belong to it)."""
        assert self.loop is not None, "the app has not started"
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=10)

    def publish(self, event: RunEvent) -> str:
        return self.call(self.bus.publish(event))


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "supertest.db"
    db_migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def home(tmp_path: Path, migrated_template: Path) -> Path:
    shutil.copyfile(migrated_template, tmp_path / "supertest.db")
    return tmp_path


# The artifacts origin of the unit tests' settings: the `artifacts` client's base URL.
ARTIFACTS_ORIGIN = "http://artifacts.testserver"


def make_settings(home: Path, **overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "SUPERTEST_HOME": home,
        "RUN_BACKEND": "local",
        "DATABASE_URL": f"sqlite:///{home / 'supertest.db'}",
        "REDIS_URL": None,
        "S3_ENDPOINT": None,
        "SESSION_SECRET": None,
        "PUBLIC_URL": None,
        "ARTIFACTS_URL": ARTIFACTS_ORIGIN,
        "ARTIFACTS_SIGNING_KEY": "unit-tests-artifacts-key-0123456789abcdef",
        "QUEUED_CAPACITY": 3,
        "RUNNING_CAPACITY": 2,
        "MAX_SCRIPT_BYTES": 4096,
    }
    values.update(overrides)
    return ApiSettings(**values)


@pytest.fixture
def settings(home: Path) -> ApiSettings:
    return make_settings(home)


@pytest.fixture
def db(settings: ApiSettings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.effective_database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def api_key(db: sessionmaker[Session]) -> str:
    with session_scope(db) as session:
        _, key = apikeys.create_key(session, "unit-tests")
    return key


@pytest.fixture
def bus() -> MemoryEventBus:
    return MemoryEventBus()


@pytest.fixture
def launcher(settings: ApiSettings, bus: MemoryEventBus) -> FakeLauncher:
    return FakeLauncher(settings, bus)


@pytest.fixture
def anon(settings: ApiSettings, launcher: FakeLauncher, bus: MemoryEventBus) -> Iterator[TestClient]:
    """A client with no credentials; the lifespan runs for the duration of the test."""
    with TestClient(create_app(settings, launcher, bus=bus), base_url="http://testserver") as client:
        yield client


@pytest.fixture
def artifacts(settings: ApiSettings) -> Iterator[TestClient]:
    """The artifacts origin's app, with the same settings (and so the same local token key) as the API."""
    with TestClient(create_artifacts_app(settings), base_url=ARTIFACTS_ORIGIN) as client:
        yield client


@pytest.fixture
def client(anon: TestClient, api_key: str) -> TestClient:
    anon.headers["Authorization"] = f"Bearer {api_key}"
    return anon


@dataclass
class LiveServer:
    url: str
    launcher: FakeLauncher
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@pytest.fixture
def live(settings: ApiSettings, launcher: FakeLauncher, bus: MemoryEventBus, api_key: str) -> Iterator[LiveServer]:
    """A real uvicorn on 127.0.0.1 in a thread: real HTTP framing for SSE, raw paths and chunked bodies."""
    with serving(create_app(settings, launcher, bus=bus)) as url:
        wait_for(lambda: httpx.get(url + "/healthz").status_code == 200, timeout=10, interval=0.01, message="healthz")
        yield LiveServer(url=url, launcher=launcher, api_key=api_key)


def insert_run(db: sessionmaker[Session], phase: Phase = Phase.QUEUED, kind: str = "test", **values: Any) -> str:
    run_id = new_run_id(kind)
    with session_scope(db) as session:
        session.add(RunRecord(id=run_id, kind=kind, phase=phase.value, title=values.pop("title", "t"), **values))
    return run_id
