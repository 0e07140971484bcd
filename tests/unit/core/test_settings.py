from pathlib import Path

import pytest
from pydantic import ValidationError

from supertest.settings import ApiSettings, ArtifactsSettings, CoreSettings, normalise_database_url


def test_defaults_select_embedded_parts(monkeypatch, tmp_path):
    for var in ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT", "RUN_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SUPERTEST_HOME", str(tmp_path))
    s = CoreSettings()
    assert s.is_local
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'supertest.db'}"
    assert s.effective_artifacts_dir == tmp_path / "artifacts"
    assert (s.running_capacity, s.queued_capacity, s.test_execution_timeout_ms) == (5, 50, 900_000)


def test_seed_env_names_are_read(monkeypatch):
    monkeypatch.setenv("RUNNING_CAPACITY", "3")
    monkeypatch.setenv("QUEUED_CAPACITY", "7")
    monkeypatch.setenv("TEST_EXECUTION_TIMEOUT_MS", "60000")
    s = CoreSettings()
    assert (s.running_capacity, s.queued_capacity, s.default_timeout_seconds) == (3, 7, 60)


def test_invalid_capacity_is_rejected_at_startup(monkeypatch):
    monkeypatch.setenv("RUNNING_CAPACITY", "0")
    with pytest.raises(ValidationError, match="RUNNING_CAPACITY"):
        CoreSettings()


def test_placeholder_secrets_refused_outside_local_mode(monkeypatch):
    monkeypatch.setenv("RUN_BACKEND", "kubernetes")
    monkeypatch.setenv("S3_ENDPOINT", "http://s3:9000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "minioadmin")
    with pytest.raises(ValidationError, match="placeholder"):
        CoreSettings()
    monkeypatch.setenv("RUN_BACKEND", "local")
    assert CoreSettings().aws_secret_access_key is not None


def test_session_secret_required_outside_local_mode(monkeypatch):
    monkeypatch.setenv("RUN_BACKEND", "kubernetes")
    monkeypatch.delenv("S3_ENDPOINT", raising=False)
    monkeypatch.delenv("SESSION_SECRET", raising=False)
    with pytest.raises(ValidationError, match="SESSION_SECRET"):
        ApiSettings()
    monkeypatch.setenv("SESSION_SECRET", "x" * 32)
    assert ApiSettings().session_secret is not None


def test_postgres_urls_get_the_psycopg_driver():
    assert normalise_database_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_artifacts_url_is_an_origin_and_needs_a_strong_key_outside_local_mode() -> None:
    base = {"RUN_BACKEND": "kubernetes", "S3_ENDPOINT": None}
    assert ArtifactsSettings(**base).artifacts_url is None
    strong = "s" * 40
    ok = ArtifactsSettings(**base, ARTIFACTS_URL="https://artifacts.internal:8443/", ARTIFACTS_SIGNING_KEY=strong)
    assert ok.artifacts_url == "https://artifacts.internal:8443"
    for bad_url in ("artifacts.internal", "https://artifacts.internal/reports", "ftp://artifacts.internal"):
        with pytest.raises(ValidationError, match="ARTIFACTS_URL must be an origin"):
            ArtifactsSettings(**base, ARTIFACTS_URL=bad_url, ARTIFACTS_SIGNING_KEY=strong)
    for weak in (None, "changeme", "short"):
        with pytest.raises(ValidationError, match="ARTIFACTS_SIGNING_KEY"):
            ArtifactsSettings(**base, ARTIFACTS_URL="https://artifacts.internal", ARTIFACTS_SIGNING_KEY=weak)


def test_metrics_port_must_differ_from_the_api_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERTEST_PORT", "8000")
    monkeypatch.setenv("METRICS_PORT", "8000")
    with pytest.raises(ValueError, match="METRICS_PORT must differ"):
        ApiSettings()
    monkeypatch.setenv("METRICS_PORT", "9090")
    assert ApiSettings().metrics_port == 9090


def test_state_home_never_answers_to_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SUPERTEST_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOST", "192.0.2.1")
    monkeypatch.chdir(tmp_path)
    settings = ApiSettings()
    assert settings.home == tmp_path / ".supertest"
    assert settings.host == "127.0.0.1"
