"""scripts/setup-playwright.sh and the runner agree on where Playwright lives."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from supertest_runner import paths

from supertest.events import decode_stdout_event
from supertest.phases import ExitCode
from tests.integration.runner.conftest import _SCRUBBED, run_setup
from tests.integration.runner.test_runner import PASSING


def test_setup_is_a_fast_noop_when_cached(playwright_env: dict[str, str]) -> None:
    start = time.monotonic()
    again = run_setup()
    # The target is well under 2 s (about 0.3 s idle); the bound leaves room for a loaded 2-core CI machine.
    assert time.monotonic() - start < 5
    assert again == playwright_env
    pw_dir = Path(again["SUPERTEST_PLAYWRIGHT_DIR"])
    assert paths.playwright_cli(pw_dir).is_file()
    assert not pw_dir.is_relative_to(Path(__file__).resolve().parents[3]), "the cache lives outside the work tree"
    assert list(Path(again["PLAYWRIGHT_BROWSERS_PATH"]).glob("ffmpeg-*/ffmpeg-linux"))


def test_setup_prints_versions_side_by_side(playwright_env: dict[str, str]) -> None:
    out = subprocess.run(
        ["bash", "scripts/setup-playwright.sh"],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "chromium installed: Chromium 156." in out.stderr
    assert "playwright expects: chromium 156." in out.stderr


def _run_runner(tmp_path: Path, env_updates: dict[str, str], drop: tuple[str, ...]) -> tuple[int, str]:
    scripts = tmp_path / "scripts"
    scripts.mkdir(exist_ok=True)
    (scripts / "heading.js").write_text(PASSING)
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED + drop}
    env.update(
        SUPERTEST_RUN_ID="defaults",
        SUPERTEST_SCRIPTS_DIR=str(scripts),
        ARTIFACTS_DIR=str(tmp_path / "artifacts"),
        SUPERTEST_EVENTS_STDOUT="1",
        PW_VIDEO="on",  # needs the ffmpeg link under the default PLAYWRIGHT_BROWSERS_PATH
        PW_TRACE="off",
    )
    env.update(env_updates)
    done = subprocess.run(
        [sys.executable, "-m", "supertest_runner"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    events = [e for e in map(decode_stdout_event, done.stdout.splitlines()) if e is not None]
    final = [e for e in events if e.is_terminal_status][-1]
    assert final.phase is not None
    return done.returncode, final.message or ""


def test_runner_defaults_to_the_script_cache(tmp_path: Path, playwright_env: dict[str, str]) -> None:
    # The session fixture ran the script with the ambient environment; the runner finds the same paths alone.
    code, message = _run_runner(tmp_path, {}, drop=("SUPERTEST_PLAYWRIGHT_DIR", "PLAYWRIGHT_BROWSERS_PATH"))
    assert code == ExitCode.PASSED, message


def test_runner_says_what_to_run_without_playwright(tmp_path: Path) -> None:
    code, message = _run_runner(
        tmp_path, {"SUPERTEST_CACHE": str(tmp_path / "empty-cache")}, drop=("SUPERTEST_PLAYWRIGHT_DIR",)
    )
    assert code == ExitCode.ERROR
    assert "Playwright Test is not installed" in message
    assert "scripts/setup-playwright.sh" in message
