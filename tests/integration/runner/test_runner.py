"""The real runner end to end in local mode: real Playwright, Debian's Chromium, a local artifacts folder."""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable

import pytest
from supertest_runner.process import INTERRUPT_GRACE_SECONDS

from supertest.events import Summary
from supertest.phases import ExitCode, Phase
from tests.integration.runner.conftest import Launcher, RunResult

pytestmark = pytest.mark.browser

Run = Callable[..., RunResult]
# Node, Playwright's loader and a browser launch, plus the runner's own start, on a loaded 2-core machine.
STARTUP_SECONDS = 20

PASSING = """
import { test, expect } from '@playwright/test';
test('shows the heading', async ({ page }) => {
  await page.setContent('<h1>Supertest</h1>');
  await expect(page.locator('h1')).toHaveText('Supertest');
});
"""
FAILING = """
import { test, expect } from '@playwright/test';
test('expects the wrong text', async ({ page }) => {
  await page.setContent('<h1>Supertest</h1>');
  await expect(page.locator('h1')).toHaveText('Nope', { timeout: 500 });
});
"""
TYPESCRIPT = """
import { test, expect, type Page } from '@playwright/test';
interface Greeting { text: string; level: 1 | 2 }
async function render(page: Page, greeting: Greeting): Promise<void> {
  await page.setContent(`<h${greeting.level}>${greeting.text}</h${greeting.level}>`);
}
test('typed helper', async ({ page }) => {
  const greeting: Greeting = { text: 'typed', level: 2 };
  await render(page, greeting);
  await expect(page.locator('h2')).toHaveText(greeting.text);
});
"""
SYNTAX_ERROR = """
import { test } from '@playwright/test';
test('broken', async ({ page }) => { await page.goto( });
"""
HANGS = """
import { test } from '@playwright/test';
test('never ends', async ({ page }) => {
  test.setTimeout(0);
  await page.setContent('<p>waiting</p>');
  await new Promise(() => {});
});
"""
FIREFOX = """
import { test } from '@playwright/test';
test.use({ browserName: 'firefox' });
test('wants firefox', async ({ page }) => { await page.setContent('<p>x</p>'); });
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_passing_run_stores_report_trace_and_video(run: Run) -> None:
    result = run({"heading.js": PASSING}, env={"PW_VIDEO": "on", "PW_TRACE": "on", "PW_SCREENSHOT": "on"})
    assert result.returncode == ExitCode.PASSED, result.explain()
    assert result.statuses[0].phase is Phase.RUNNING
    assert result.final.phase is Phase.PASSED
    assert result.final.message == "1 passed"
    assert result.result.summary is not None
    assert result.result.summary.model_dump(exclude={"duration_ms"}) == Summary(total=1, passed=1).model_dump(
        exclude={"duration_ms"}
    )
    assert result.result.report_url == f"/api/test-results/{result.final.run_id}/report/index.html"
    assert result.result.exit_code == 0
    stored = result.stored()
    assert "report/index.html" in stored
    assert "results.json" in stored
    assert "logs.txt" in stored
    assert any(p.startswith("report/data/") and p.endswith(".zip") for p in stored), stored
    assert any(p.startswith("report/data/") and p.endswith(".webm") for p in stored), stored
    assert any(p.startswith("report/trace/") for p in stored), "the trace viewer ships inside the report"
    assert "1 passed" in (result.artifacts / "logs.txt").read_text()
    # Lines are streamed as log events, tagged with their stream.
    assert any(e.stream == "stdout" and "1 passed" in (e.line or "") for e in result.events)


def test_failing_test_is_failed_not_error(run: Run) -> None:
    result = run({"wrong.spec.js": FAILING})
    assert result.returncode == ExitCode.FAILED, result.explain()
    assert result.final.phase is Phase.FAILED
    assert result.final.message == "1 failed"
    assert result.result.summary is not None
    assert (result.result.summary.total, result.result.summary.failed) == (1, 1)
    assert "report/index.html" in result.stored()


def test_typescript_passes(run: Run) -> None:
    result = run({"typed.ts": TYPESCRIPT})
    assert result.returncode == ExitCode.PASSED, result.explain()
    assert result.final.phase is Phase.PASSED


def test_syntax_error_is_an_error(run: Run) -> None:
    result = run({"broken.js": SYNTAX_ERROR})
    assert result.returncode == ExitCode.ERROR, result.explain()
    assert result.final.phase is Phase.ERROR
    assert result.final.message is not None
    # Paths relative to the work dir: the message is about the user's script, not the runner's folders.
    assert result.final.message.startswith("SyntaxError: tests/broken.spec.js: Unexpected token"), result.final.message
    assert "logs.txt" in result.stored()


def test_hang_past_the_timeout_is_timed_out(run: Run) -> None:
    timeout = 4
    result = run({"hang.js": HANGS}, env={"SUPERTEST_TIMEOUT_SECONDS": str(timeout)})
    assert result.returncode == ExitCode.TIMED_OUT, result.explain()
    assert result.final.phase is Phase.TIMED_OUT
    assert result.final.message is not None
    assert result.final.message.startswith(f"timed out after {timeout}s")
    assert result.elapsed < timeout + INTERRUPT_GRACE_SECONDS + STARTUP_SECONDS
    assert "logs.txt" in result.stored()
    # SIGINT first: Playwright still wrote its reports, and they were uploaded. (On a machine so loaded that
    # Node had not even started the test by the deadline, there is nothing to report, and that is right.)
    if "never ends" in result.log_text:
        assert {"report/index.html", "results.json"} <= set(result.stored()), result.explain()


def test_sigterm_mid_run_is_cancelled(launch: Launcher) -> None:
    runner = launch({"hang.js": HANGS})
    runner.wait_for_log("never ends", timeout=60)  # the line reporter announces the running test
    runner.proc.send_signal(signal.SIGTERM)
    result = runner.finish(timeout=INTERRUPT_GRACE_SECONDS + 30)
    assert result.returncode == ExitCode.CANCELLED, result.explain()
    assert result.final.phase is Phase.CANCELLED
    # Interrupted, not killed: Playwright still wrote its reports, and they were uploaded.
    assert {"report/index.html", "results.json", "logs.txt"} <= set(result.stored())


def test_missing_browser_is_a_clear_error(run: Run) -> None:
    result = run({"heading.js": PASSING}, env={"CHROMIUM_PATH": "/nonexistent"})
    assert result.returncode == ExitCode.ERROR, result.explain()
    assert result.final.phase is Phase.ERROR
    assert result.final.message is not None
    assert result.final.message.startswith("Chromium not found at /nonexistent")
    assert "CHROMIUM_PATH" in result.final.message


def test_other_browsers_are_refused(run: Run) -> None:
    from_spec = run({"heading.js": PASSING}, env={"SUPERTEST_BROWSERS": "chromium,webkit"})
    assert from_spec.returncode == ExitCode.ERROR, from_spec.explain()
    assert from_spec.final.message == "browser webkit requested, but only Chromium is available"

    from_script = run({"ff.js": FIREFOX})
    assert from_script.returncode == ExitCode.ERROR, from_script.explain()
    assert from_script.final.message == "the script asks for firefox, but only Chromium is available"


def test_upload_failure_is_an_error(run: Run) -> None:
    env = {
        "S3_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "UPLOAD_ATTEMPTS": "2",
    }
    result = run({"heading.js": PASSING}, env=env)
    # Its own exit code (issue #13): an infrastructure Error the operator retries per spec.retries.
    assert result.returncode == ExitCode.UPLOAD_FAILED, result.explain()
    assert result.final.phase is Phase.ERROR
    assert result.final.message is not None
    assert "upload" in result.final.message
    assert "1 passed" in result.final.message, "the tests' own outcome is kept in the message"
    assert result.result.report_url is None


def test_job_runs_files_in_order_into_one_report(run: Run) -> None:
    scripts = {"02-second.spec.ts": TYPESCRIPT, "01-first.spec.js": PASSING}
    result = run(scripts, kind="job")
    assert result.returncode == ExitCode.PASSED, result.explain()
    assert result.result.summary is not None
    assert (result.result.summary.total, result.result.summary.passed) == (2, 2)
    assert "report/index.html" in result.stored()
    assert "job/runs/" in result.artifacts.as_posix()
    log = result.log_text
    assert log.index("tests/01-first.spec.js") < log.index("tests/02-second.spec.ts")
