"""`python -m supertest_runner`: settings from the environment, optionally overridden by flags."""

from __future__ import annotations

import argparse
import asyncio
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from supertest.artifacts.layout import InvalidArtifactPath, check_run_id
from supertest.phases import ExitCode
from supertest.settings import RunnerSettings

_EPILOG = """\
environment (flags win): SUPERTEST_RUN_ID, SUPERTEST_RUN_KIND, SUPERTEST_SCRIPTS_DIR, SUPERTEST_WORK_DIR,
SUPERTEST_TIMEOUT_SECONDS (default TEST_EXECUTION_TIMEOUT_MS/1000), MAX_CONCURRENT_TESTS, SUPERTEST_BROWSERS,
SUPERTEST_PLAYWRIGHT_DIR and PLAYWRIGHT_BROWSERS_PATH (printed by scripts/setup-playwright.sh), CHROMIUM_PATH,
PW_TRACE, PW_SCREENSHOT, PW_VIDEO, PW_RETRIES, UPLOAD_ATTEMPTS, SUPERTEST_EVENTS_STDOUT, REDIS_URL,
S3_ENDPOINT, S3_TEST_BUCKET_NAME, S3_JOB_BUCKET_NAME, AWS_*, ARTIFACTS_DIR.

exit codes: 0 passed, 1 tests failed, 2 error (bad script, missing browser, bad configuration),
3 timed out, 4 cancelled (SIGTERM/SIGINT), 5 the tests ran but their artifacts could not be stored.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m supertest_runner",
        description="Run Playwright test scripts once, upload the report and publish the run's events.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--run-id", help="run id, a DNS label (SUPERTEST_RUN_ID)")
    parser.add_argument("--kind", choices=("test", "job"), help="run kind; picks the bucket (SUPERTEST_RUN_KIND)")
    parser.add_argument("--scripts-dir", type=Path, help="folder of *.js, *.mjs, *.ts scripts (SUPERTEST_SCRIPTS_DIR)")
    parser.add_argument("--work-dir", type=Path, help="where Playwright runs; a temp dir if unset (SUPERTEST_WORK_DIR)")
    parser.add_argument("--timeout-seconds", type=int, help="whole-run deadline (SUPERTEST_TIMEOUT_SECONDS)")
    parser.add_argument("--workers", type=int, help="Playwright workers (MAX_CONCURRENT_TESTS)")
    return parser


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    mapping = {
        "run_id": args.run_id,
        "run_kind": args.kind,
        "scripts_dir": args.scripts_dir,
        "work_dir": args.work_dir,
        "timeout_seconds": args.timeout_seconds,
        "max_concurrent_tests": args.workers,
    }
    return {k: v for k, v in mapping.items() if v is not None}


def load_settings(argv: Sequence[str] | None = None) -> RunnerSettings:
    args = build_parser().parse_args(argv)
    settings = RunnerSettings(**overrides(args))
    check_run_id(settings.run_id)
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = load_settings(argv)
    except (ValidationError, InvalidArtifactPath) as exc:
        # Without valid settings there is no run to publish to: say it on stderr and exit as an Error.
        print(f"supertest-runner: invalid configuration: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    from supertest_runner.main import run  # after settings: --help stays fast

    try:
        return asyncio.run(run(settings, own_process=True))
    except Exception:
        # Python's own exit code for a crash is 1, which would read as "tests failed".
        traceback.print_exc()
        return ExitCode.ERROR
