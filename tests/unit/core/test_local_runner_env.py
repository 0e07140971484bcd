from __future__ import annotations

from pathlib import Path

from supertest.db.models import RunRecord
from supertest.local.runner_env import runner_env
from supertest.settings import ApiSettings

SERVER_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/home/dev",
    "DATABASE_URL": "postgresql://u:dbpass@db/supertest",
    "REDIS_URL": "redis://:redispass@redis:6379/0",
    "SESSION_SECRET": "session-secret-value",
    "SECRETS_KEY": "secrets-key-value",
    "SUPERTEST_HOME": "/srv/state",
    "SUPERTEST_DEV_API_KEY_FILE": "/srv/state/dev-api-key",
    "SUPERTEST_PLAYWRIGHT_DIR": "/opt/pw",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
}


def _env(tmp_path: Path) -> dict[str, str]:
    settings = ApiSettings(SUPERTEST_HOME=str(tmp_path / "state"))
    record = RunRecord(
        id="tr-abc",
        kind="test",
        spec={"env": [{"name": "BASE_URL", "value": "http://app"}, {"name": "TOKEN", "value": "mine"}]},
    )
    return runner_env(
        settings,
        SERVER_ENV,
        record,
        tmp_path / "state" / "runs" / "tr-abc",
        timeout_seconds=60,
        variables={"TOKEN": "from-variables", "API_PASSWORD": "s3cret"},
        secret_names=["API_PASSWORD"],
        verdict_path=tmp_path / "v.json",
    )


def test_the_runner_gets_an_allow_list_not_the_servers_environment(tmp_path: Path) -> None:
    env = _env(tmp_path)
    values = "\n".join(env.values())
    for secret in ("dbpass", "redispass", "session-secret-value", "secrets-key-value", "aws-secret"):
        assert secret not in values
    for name in ("DATABASE_URL", "REDIS_URL", "SESSION_SECRET", "SECRETS_KEY", "SUPERTEST_DEV_API_KEY_FILE"):
        assert name not in env
    assert "/srv/state" not in values and str(tmp_path / "state") + "\n" not in values + "\n"
    run_dir = tmp_path / "state" / "runs" / "tr-abc"
    assert env["HOME"] == str(run_dir / "home") and env["SUPERTEST_HOME"] == str(run_dir)
    assert env["PATH"] == "/usr/bin:/bin" and env["SUPERTEST_PLAYWRIGHT_DIR"] == "/opt/pw"
    assert env["SUPERTEST_CACHE"] == "/home/dev/.cache/supertest"  # the server's Playwright, found without HOME
    assert env["SUPERTEST_VERDICT_PATH"] == str(tmp_path / "v.json")


def test_the_runs_own_env_wins_over_variables_and_secrets_are_masked(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert env["TOKEN"] == "mine" and env["BASE_URL"] == "http://app" and env["API_PASSWORD"] == "s3cret"
    assert env["SUPERTEST_MASK_NAMES"] == "API_PASSWORD"


def test_test_retries_of_the_run_override_the_servers_default(tmp_path: Path) -> None:
    settings = ApiSettings(SUPERTEST_HOME=str(tmp_path / "state"))

    def env_for(spec: dict[str, object]) -> dict[str, str]:
        record = RunRecord(id="tr-abc", kind="test", spec=spec)
        run_dir = tmp_path / "state" / "runs" / "tr-abc"
        return runner_env(
            settings,
            {**SERVER_ENV, "PW_RETRIES": "1"},
            record,
            run_dir,
            timeout_seconds=60,
            variables={},
            secret_names=[],
            verdict_path=tmp_path / "v",
        )

    assert env_for({"testRetries": 3})["PW_RETRIES"] == "3"
    assert env_for({"testRetries": 0})["PW_RETRIES"] == "0"
    assert env_for({})["PW_RETRIES"] == "1"  # not set on the run: the server's PW_RETRIES


def test_only_tests_of_a_rerun_reach_the_runner(tmp_path: Path) -> None:
    import json

    settings = ApiSettings(SUPERTEST_HOME=str(tmp_path / "state"))

    def env_for(spec: dict[str, object]) -> dict[str, str]:
        record = RunRecord(id="tr-abc", kind="test", spec=spec)
        run_dir = tmp_path / "state" / "runs" / "tr-abc"
        return runner_env(
            settings,
            SERVER_ENV,
            record,
            run_dir,
            timeout_seconds=60,
            variables={},
            secret_names=[],
            verdict_path=run_dir,
        )

    assert json.loads(env_for({"onlyTests": ["test.spec.js > a"]})["SUPERTEST_ONLY_TESTS"]) == ["test.spec.js > a"]
    assert "SUPERTEST_ONLY_TESTS" not in env_for({})
