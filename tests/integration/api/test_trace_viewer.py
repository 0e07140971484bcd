"""The Playwright trace viewer, served from the report proxy, loads a real trace in real Chromium.

It registers a service worker (sw.bundle.js) under /api/test-results/{runId}/report/trace/ and fetches
the trace zip through it with the UI session cookie, so this exercises content types, the worker scope
and cookie auth together.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import playwright
import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from supertest.artifacts import LocalArtifactStore
from supertest.phases import Phase
from supertest.settings import ApiSettings
from tests.unit.api.conftest import LiveServer, insert_run

CHROMIUM = Path("/usr/bin/chromium")
TRACE_VIEWER = Path(playwright.__file__).parent / "driver/package/lib/vite/traceViewer"
LAUNCH_ARGS = ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser
# Generous: these run next to other suites on shared machines.
expect.set_options(timeout=15_000)


def record_trace(path: Path) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        context = browser.new_context()
        context.tracing.start(snapshots=True, screenshots=False)
        page = context.new_page()
        page.set_content("<button onclick=\"this.textContent='Clicked'\">Click me</button>")
        page.get_by_role("button").click()
        context.tracing.stop(path=str(path))
        browser.close()


def test_trace_viewer_from_the_results_proxy(
    live: LiveServer, db: sessionmaker[Session], settings: ApiSettings, tmp_path: Path
) -> None:
    run_id = insert_run(db, Phase.PASSED)
    report = tmp_path / "report"
    shutil.copytree(TRACE_VIEWER, report / "trace")
    (report / "data").mkdir()
    record_trace(report / "data" / "trace.zip")
    LocalArtifactStore(settings.effective_artifacts_dir / "test").upload_dir(f"runs/{run_id}/report/", report)

    base = f"{live.url}/api/test-results/{run_id}/report"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        context = browser.new_context()
        login = context.request.post(f"{live.url}/api/auth/login", data={"apiKey": live.api_key})
        assert login.ok
        page = context.new_page()
        page.goto(f"{base}/trace/index.html?trace={base}/data/trace.zip")
        # The action list shows the click once the worker has fetched and parsed the trace.
        expect(page.get_by_text("Click", exact=False).first).to_be_visible(timeout=20_000)
        expect(page.get_by_text('get_by_role("button")').first).to_be_visible()
        # Snapshots render in an iframe the service worker serves; the click's "After" shows its effect.
        page.get_by_text("Click", exact=True).first.click()
        page.get_by_role("tab", name="After").click()
        snapshot = page.frame_locator("iframe.snapshot-visible[name=snapshot]")
        expect(snapshot.get_by_role("button")).to_have_text("Clicked", timeout=20_000)
        browser.close()
