"""The Playwright trace viewer, served by the artifacts origin, loads a real trace in real Chromium.

It registers a service worker (sw.bundle.js) under /{token}/runs/{runId}/report/trace/ and fetches the trace zip
through it, authorised by nothing but the token in the path the API handed out, so this exercises content types,
the worker scope (Service-Worker-Allowed) and token auth together.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import playwright
import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker
from supertest_api.artifacts_origin.app import create_artifacts_app

from supertest.artifacts import LocalArtifactStore
from supertest.phases import Phase
from supertest.settings import ApiSettings
from tests.support.api_thread import serving
from tests.support.local_server import free_port
from tests.unit.api.conftest import LiveServer, insert_run, make_settings

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


@pytest.fixture
def artifacts_port() -> int:
    return free_port()


@pytest.fixture
def settings(home: Path, artifacts_port: int) -> ApiSettings:
    return make_settings(home, ARTIFACTS_URL=f"http://127.0.0.1:{artifacts_port}")


def test_trace_viewer_from_the_artifacts_origin(
    live: LiveServer, db: sessionmaker[Session], settings: ApiSettings, artifacts_port: int, tmp_path: Path
) -> None:
    run_id = insert_run(db, Phase.PASSED)
    report = tmp_path / "report"
    shutil.copytree(TRACE_VIEWER, report / "trace")
    (report / "data").mkdir()
    record_trace(report / "data" / "trace.zip")
    LocalArtifactStore(settings.effective_artifacts_dir / "test").upload_dir(f"runs/{run_id}/report/", report)

    report_url = httpx.get(f"{live.url}/api/runs/{run_id}", headers=live.auth).json()["reportUrl"]
    assert report_url.startswith(settings.artifacts_url or "-")
    base = report_url.removesuffix("/index.html")
    with serving(create_artifacts_app(settings), port=artifacts_port), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        context = browser.new_context()  # no session: the token in the URL is the only authority
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
