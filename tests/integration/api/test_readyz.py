"""/readyz on real Postgres, Redis and S3, each stopped in turn: it names the dependency that is down and leaks no
hostname, port, user, key or exception text (it is unauthenticated). Kubernetes mode adds a `kubernetes` check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from supertest_api.app import create_app
from supertest_api.kubernetes.launcher import KubernetesLauncher

from supertest.bus.memory import MemoryEventBus
from supertest.db import migrate as db_migrate
from supertest.db.engine import make_engine, make_session_factory
from supertest.settings import ApiSettings
from tests.k8s.wait import wait_for
from tests.services.postgres import PostgresServer
from tests.services.procs import free_port
from tests.services.redis_server import RedisServer
from tests.services.s3 import S3Server
from tests.support.api_thread import serving


def _leaks(body: str, secrets: list[str]) -> list[str]:
    lowered = body.lower()
    words = ["127.0.0.1", "localhost", "errno", "error", "refused", "exception", "traceback", "://", *secrets]
    return [word for word in words if word.lower() in lowered]


def _down(url: str, dependency: str) -> dict[str, dict[str, object]]:
    def reported() -> dict[str, dict[str, object]] | None:
        response = httpx.get(f"{url}/readyz", timeout=30)
        checks: dict[str, dict[str, object]] = response.json()["checks"]
        return checks if response.status_code == 503 and checks[dependency]["ok"] is False else None

    result: dict[str, dict[str, object]] = wait_for(reported, timeout=30, message=f"/readyz to report {dependency}")
    return result


@pytest.fixture
def services() -> Iterator[tuple[PostgresServer, RedisServer, S3Server]]:
    with PostgresServer.start() as pg, RedisServer.start() as redis, S3Server.start() as s3:
        yield pg, redis, s3


def test_each_dependency_down_is_named_and_nothing_leaks(
    services: tuple[PostgresServer, RedisServer, S3Server], tmp_path: Path
) -> None:
    pg, redis, s3 = services
    db_migrate.upgrade(pg.url)
    for bucket in ("playwright-test-artifacts", "playwright-job-artifacts"):
        s3.create_bucket(bucket)
    settings = ApiSettings(
        SUPERTEST_HOME=str(tmp_path),
        RUN_BACKEND="local",
        DATABASE_URL=pg.url,
        REDIS_URL=redis.url,
        REDIS_SOCKET_TIMEOUT_SECONDS=1,
        **s3.env(),
    )
    secrets = [
        str(pg.port),
        str(redis.port),
        str(s3.port),
        pg.user,
        pg.password,
        s3.access_key,
        s3.secret_key,
        str(tmp_path),
    ]
    with serving(create_app(settings)) as url:
        up = httpx.get(f"{url}/readyz", timeout=30)
        assert up.status_code == 200, up.text
        assert set(up.json()["checks"]) == {"database", "schema", "redis", "s3"}

        s3.stop()
        checks = _down(url, "s3")
        assert checks["database"]["ok"] and checks["redis"]["ok"], checks
        body = httpx.get(f"{url}/readyz", timeout=30).text
        assert not _leaks(body, secrets), body

        redis.stop()
        checks = _down(url, "redis")
        assert checks["database"]["ok"], checks
        body = httpx.get(f"{url}/readyz", timeout=30).text
        assert not _leaks(body, secrets), body

        pg.stop()
        checks = _down(url, "database")
        assert checks["schema"]["ok"] is False
        body = httpx.get(f"{url}/readyz", timeout=30).text
        assert not _leaks(body, secrets), body
        assert {name: check["message"] for name, check in checks.items()} == {
            "database": "unreachable",
            "schema": "database unreachable",
            "redis": checks["redis"]["message"],
            "s3": checks["s3"]["message"],
        }
        assert {checks["redis"]["message"], checks["s3"]["message"]} <= {"unreachable", "no answer within 3s"}


def test_kubernetes_down_is_named_and_nothing_leaks(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'supertest.db'}"
    db_migrate.upgrade(database_url)
    port = free_port()  # nothing listens: an apiserver that is down
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}}}]\n"
        "users: [{name: u, user: {token: readyz-probe-token-0123456789}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u, namespace: supertest-readyz}}]\n"
    )
    settings = ApiSettings(
        SUPERTEST_HOME=str(tmp_path),
        RUN_BACKEND="kubernetes",
        DATABASE_URL=database_url,
        REDIS_URL=None,
        S3_ENDPOINT=None,
        SESSION_SECRET="readyz-session-secret-0123456789",
        SUPERTEST_NAMESPACE="supertest-readyz",
    )
    engine = make_engine(database_url)
    bus = MemoryEventBus()
    launcher = KubernetesLauncher(settings, make_session_factory(engine), bus, kubeconfig=str(kubeconfig))
    try:
        with serving(create_app(settings, launcher, bus=bus)) as url:
            response = httpx.get(f"{url}/readyz", timeout=30)
            assert response.status_code == 503, response.text
            checks = response.json()["checks"]
            assert checks["kubernetes"]["ok"] is False
            assert checks["database"]["ok"] and checks["events"]["ok"] and checks["artifacts"]["ok"], checks
            leaks = _leaks(response.text, [str(port), "readyz-probe-token", "supertest-readyz", str(tmp_path)])
            assert not leaks, response.text
    finally:
        engine.dispose()
