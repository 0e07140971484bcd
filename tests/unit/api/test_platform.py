from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from supertest_api import backends
from supertest_api.app import SchemaNotReady, create_app
from supertest_api.status import hub as status_hub

from supertest.bus.memory import MemoryEventBus
from supertest.db.engine import session_scope
from supertest.phases import Phase
from supertest.settings import ApiSettings
from tests.unit.api.conftest import FakeLauncher, LiveServer, insert_run, make_settings

SCRIPT = "import { test } from '@playwright/test';\ntest('ok', async () => {});\n"


def test_metrics_exposition(client: TestClient, db: sessionmaker[Session]) -> None:
    insert_run(db, Phase.RUNNING)
    insert_run(db, Phase.QUEUED)
    insert_run(db, Phase.QUEUED)
    client.get("/api/runs/tr-000000000000")
    client.post("/api/test", json={"script": SCRIPT})
    res = client.get("/metrics")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/plain")
    body = res.text
    assert 'supertest_http_requests_total{method="GET",route="/api/runs/{run_id}",status="404"} 1.0' in body
    assert 'supertest_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/api/test"}' in body
    assert 'supertest_runs_submitted_total{kind="test"} 1.0' in body
    assert "supertest_runs_queued 3.0" in body  # two inserted plus the one just submitted
    assert "supertest_runs_running 1.0" in body
    client.post("/api/test", json={"script": "x" * 5000})
    assert 'supertest_run_rejections_total{reason="too_large"} 1.0' in client.get("/metrics").text


def test_openapi(anon: TestClient) -> None:
    spec = anon.get("/openapi.json").json()
    assert {t["name"] for t in spec["tags"]} >= {"runs", "status", "results", "tests", "jobs", "capacity", "auth"}
    paths = spec["paths"]
    for path in (
        "/api/test",
        "/api/jobs/run",
        "/api/test-status/sse/{run_id}",
        "/api/job-status/sse/{run_id}",
        "/api/test-results/{run_id}/{path}",
        "/api/tests/{test_id}",
        "/api/jobs/{job_id}",
        "/api/runs",
        "/api/runs/{run_id}/cancel",
        "/api/capacity",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path
    submit = paths["/api/test"]["post"]
    assert submit["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/SubmitOut")
    assert {"429", "413", "401", "422"} <= set(submit["responses"])
    assert {"HTTPBearer", "APIKeyCookie"} <= set(spec["components"]["securitySchemes"])
    assert "runId" in spec["components"]["schemas"]["RunOut"]["properties"]
    assert anon.get("/docs").status_code == 200


def test_readyz(client: TestClient, db: sessionmaker[Session]) -> None:
    ok = client.get("/readyz")
    assert ok.status_code == 200
    assert ok.json()["status"] == "ready"
    assert set(ok.json()["checks"]) == {"database", "schema", "events", "artifacts"}
    with session_scope(db) as session:
        session.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    bad = client.get("/readyz")
    assert bad.status_code == 503
    assert "supertest migrate" in bad.json()["checks"]["schema"]["message"]


def test_startup_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)  # no template copied: an empty database
    app = create_app(settings, FakeLauncher(settings, MemoryEventBus()), bus=MemoryEventBus())
    with pytest.raises(SchemaNotReady, match="run `supertest migrate`"), TestClient(app):
        pass


class StubLauncher:
    def __init__(self, settings: ApiSettings, factory: object, bus: object) -> None:
        self.args = (settings, factory, bus)


def _missing_backend(settings: ApiSettings, factory: object, bus: object) -> None:
    import supertest.nope  # type: ignore[import-not-found]  # noqa: F401


def test_backend_is_chosen_by_run_backend(
    settings: ApiSettings, db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from supertest.local.dispatcher import LocalDispatcher

    assert isinstance(backends.build_launcher(settings, db, MemoryEventBus()), LocalDispatcher)
    kube = make_settings(settings.home, RUN_BACKEND="kubernetes", SESSION_SECRET="x" * 32)
    monkeypatch.setitem(backends.BACKENDS, kube.run_backend, StubLauncher)
    launcher = backends.build_launcher(kube, db, MemoryEventBus())
    assert isinstance(launcher, StubLauncher)
    assert launcher.args[0] is kube
    monkeypatch.setitem(backends.BACKENDS, kube.run_backend, _missing_backend)
    with pytest.raises(backends.BackendUnavailable, match="RUN_BACKEND=kubernetes"):
        backends.build_launcher(kube, db, MemoryEventBus())


def test_lifespan_starts_and_stops_the_launcher(settings: ApiSettings, bus: MemoryEventBus) -> None:
    launcher = FakeLauncher(settings, bus)
    with TestClient(create_app(settings, launcher, bus=bus)):
        assert launcher.started
        assert not launcher.stopped
    assert launcher.stopped


def test_unknown_route_has_the_error_shape(anon: TestClient) -> None:
    res = anon.get("/nope")
    assert res.status_code == 404
    assert res.json() == {"error": "not_found", "message": "no route for GET /nope"}


def test_chunked_body_over_the_cap_is_413(live: LiveServer, db: sessionmaker[Session]) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"script": "'
        for _ in range(48):
            yield b"x" * 65536  # 3 MiB in all, with no Content-Length
        yield b'"}'

    res = httpx.post(f"{live.url}/api/test", content=chunks(), headers=live.auth, timeout=10)
    assert res.status_code == 413
    assert res.json()["error"] == "payload_too_large"
    with session_scope(db) as session:
        assert session.execute(text("SELECT count(*) FROM runs")).scalar_one() == 0


def test_content_length_is_checked_before_the_body_is_read(live: LiveServer) -> None:
    # Announce 5 MB but send almost nothing: the answer must come without waiting for the rest.
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        head = (
            f"POST /api/test HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {live.api_key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 5242880\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"script": "xxxx')
        reply = sock.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 413"), reply
    assert "payload_too_large" in reply


def test_sse_keepalive_pings(live: LiveServer, db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status_hub, "PING_SECONDS", 0.2)
    run_id = insert_run(db, Phase.RUNNING)
    with httpx.stream("GET", f"{live.url}/api/test-status/sse/{run_id}", headers=live.auth, timeout=10) as res:
        for line in res.iter_lines():
            if line.startswith(":"):
                break
        else:
            pytest.fail("stream ended without a ping")


def test_default_app_runs_the_local_dispatcher(settings: ApiSettings) -> None:
    from supertest.local.dispatcher import LocalDispatcher

    app = create_app(settings)
    with TestClient(app) as client:
        assert isinstance(app.state.resources.launcher, LocalDispatcher)
        assert client.get("/readyz").status_code == 200
    assert app.state.resources is None
