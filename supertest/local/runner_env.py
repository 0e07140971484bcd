"""The local runner's environment: an allow-list, never the server's own environment.

The script runs as the server's user, so local mode cannot hide files (README, "Security model"); what it can
do is keep the server's credentials out of the runner's environment, which the script can read from /proc. So
nothing is inherited but PATH, locale and time zone, where the pinned Playwright lives, and the runner's own
settings; the database URL, Redis URL, session secret, secrets key and the state directory (dev-api-key,
session.key) are not there to find.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from supertest.db.models import RunRecord
from supertest.launch import env_from_spec
from supertest.settings import CoreSettings

# Taken from the server's environment when set: how to find node, Chromium and Playwright, and the locale.
INHERITED = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "CHROMIUM_PATH",
    "SUPERTEST_PLAYWRIGHT_DIR",
    "PLAYWRIGHT_BROWSERS_PATH",
    "SUPERTEST_CACHE",
    "PW_TRACE",
    "PW_VIDEO",
    "PW_SCREENSHOT",
    "PW_RETRIES",
    "UPLOAD_ATTEMPTS",
    "SUPERTEST_MAX_EVENTS",
)


def run_dir_of(home: Path, run_id: str) -> Path:
    """A local run's own folder, which is also its runner's SUPERTEST_HOME (how orphan_runners finds it again)."""
    return home / "runs" / run_id


def runner_env(
    settings: CoreSettings,
    server_env: Mapping[str, str],
    record: RunRecord,
    run_dir: Path,
    *,
    timeout_seconds: int,
    variables: Mapping[str, str],
    secret_names: list[str],
    verdict_path: Path,
    quarantined: Sequence[str] = (),
) -> dict[str, str]:
    env = {k: server_env[k] for k in INHERITED if server_env.get(k)}
    if "SUPERTEST_CACHE" not in env:
        # The runner finds the pinned Playwright under $HOME/.cache/supertest; HOME is the run's own dir below,
        # so name the server's cache explicitly (paths.cache_root in the runner is the same rule).
        server_home = server_env.get("HOME")
        env["SUPERTEST_CACHE"] = str((Path(server_home) if server_home else Path.home()) / ".cache" / "supertest")
    spec_env = env_from_spec(record.spec)
    # Variables and secrets of the run; the run's own env wins over them.
    env.update({k: v for k, v in variables.items() if k not in spec_env})
    env.update(spec_env)
    run_home = run_dir / "home"
    run_home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(run_home),
        SUPERTEST_HOME=str(run_dir),
        SUPERTEST_RUN_ID=record.id,
        SUPERTEST_RUN_KIND=record.kind,
        SUPERTEST_SCRIPTS_DIR=str(run_dir / "scripts"),
        SUPERTEST_WORK_DIR=str(run_dir / "work"),
        SUPERTEST_TIMEOUT_SECONDS=str(timeout_seconds),
        SUPERTEST_EVENTS_STDOUT="1",
        SUPERTEST_VERDICT_PATH=str(verdict_path),
        ARTIFACTS_DIR=str(settings.effective_artifacts_dir),
        MAX_CONCURRENT_TESTS=str(record.spec.get("workers") or settings.max_concurrent_tests),
        RUN_BACKEND="local",
        # The runner cuts its lines where the relay would: one setting (LOG_LINE_MAX_BYTES) for both.
        SUPERTEST_LOG_LINE_MAX_BYTES=str(settings.log_line_max_bytes),
        # Chromium keeps profile-wide config under XDG_CONFIG_HOME and dconf its cache under XDG_CACHE_HOME, else
        # under HOME: beside the run's own files, so local mode writes nothing into the user's home.
        XDG_CONFIG_HOME=str(run_dir / "xdg-config"),
        XDG_CACHE_HOME=str(run_dir / "xdg-cache"),
    )
    if record.spec.get("testRetries") is not None:  # else the server's PW_RETRIES (inherited above), if any
        env["PW_RETRIES"] = str(int(record.spec["testRetries"]))
    if quarantined:  # their failures are reported apart and do not fail the run
        env["SUPERTEST_QUARANTINED_TESTS"] = json.dumps(sorted(quarantined))
    if record.spec.get("onlyTests"):  # re-run failed: the runner runs only these tests
        env["SUPERTEST_ONLY_TESTS"] = json.dumps([str(t) for t in record.spec["onlyTests"]])
    if secret_names:
        env["SUPERTEST_MASK_NAMES"] = ",".join(secret_names)
    if settings.s3_endpoint:
        env.update(_s3(settings))
    return env


def _s3(settings: CoreSettings) -> dict[str, str]:
    """A local server that stores artifacts in S3 has to hand its runner the S3 keys (the README says so); the
    runner still keeps them from the script's own environment (supertest_runner.main.playwright_env)."""
    out = {
        "S3_ENDPOINT": settings.s3_endpoint or "",
        "S3_TEST_BUCKET_NAME": settings.s3_test_bucket_name,
        "S3_JOB_BUCKET_NAME": settings.s3_job_bucket_name,
        "AWS_REGION": settings.aws_region,
    }
    if settings.aws_access_key_id:
        out["AWS_ACCESS_KEY_ID"] = settings.aws_access_key_id
    if settings.aws_secret_access_key:
        out["AWS_SECRET_ACCESS_KEY"] = settings.aws_secret_access_key.get_secret_value()
    return out
