"""The minimal UI in real Chromium: log in, run the example, follow SSE, see the report."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from supertest.artifacts import LocalArtifactStore
from supertest.db.engine import session_scope
from supertest.db.models import RunRecord
from supertest.events import Summary, log_event, result_event, status_event
from supertest.phases import Phase
from supertest.settings import ApiSettings
from tests.unit.api.conftest import LiveServer, wait_for

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser
# Generous: these run next to other suites on shared machines.
expect.set_options(timeout=15_000)


def submitted_run_id(db: sessionmaker[Session]) -> str:
    holder: list[str] = []

    def found() -> bool:
        with session_scope(db) as session:
            holder[:] = [r.id for r in session.query(RunRecord).all()]
        return bool(holder)

    wait_for(found, what="the run row")
    return holder[0]


def log_in(page: Page, live: LiveServer) -> None:
    page.goto(live.url + "/")
    page.get_by_label("API key").fill("st_wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert").first).to_contain_text("invalid API key")
    page.get_by_label("API key").fill(live.api_key)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_label("Script")).to_be_visible()


def test_playground_run_follow_and_report(live: LiveServer, db: sessionmaker[Session], settings: ApiSettings) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = browser.new_page()
        log_in(page, live)
        # No stored test yet, so the example embedded in the page is there.
        expect(page.get_by_label("Script")).to_have_value(re.compile("Hello from Supertest"))
        page.get_by_role("button", name="Run").click()
        expect(page.get_by_label("Phase")).to_have_text("Queued")

        run_id = submitted_run_id(db)
        LocalArtifactStore(settings.effective_artifacts_dir / "test").put_bytes(
            f"runs/{run_id}/report/index.html", b"<html><body><h1>Playwright report</h1></body></html>"
        )
        live.launcher.publish(status_event(run_id, Phase.RUNNING))
        expect(page.get_by_label("Phase")).to_have_text("Running")
        expect(page.get_by_text(f"Run {run_id} started")).to_be_visible()
        live.launcher.publish(log_event(run_id, "Running 1 test using 1 worker"))
        expect(page.get_by_role("log")).to_contain_text("Running 1 test using 1 worker")
        live.launcher.publish(result_event(run_id, Summary(total=1, passed=1), None, 0))
        live.launcher.publish(status_event(run_id, Phase.PASSED))
        expect(page.get_by_label("Phase")).to_have_text("Passed")
        expect(page.get_by_text(f"Run {run_id} finished: Passed")).to_be_visible()
        expect(page.get_by_text("1 passed, 0 failed")).to_be_visible()
        report = page.frame_locator("iframe[title=Report]")
        expect(report.get_by_role("heading", name="Playwright report")).to_be_visible()
        browser.close()


def test_queue_full_message_is_shown(live: LiveServer, db: sessionmaker[Session]) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = browser.new_page()
        log_in(page, live)
        for _ in range(3):  # fill the queue (QUEUED_CAPACITY=3) from another client
            res = httpx.post(f"{live.url}/api/test", json={"script": "test('a', () => {})"}, headers=live.auth)
            assert res.status_code == 202
        page.get_by_role("button", name="Run").click()
        expect(page.get_by_role("alert").filter(has_text="queue is full")).to_contain_text("QUEUED_CAPACITY is 3")
        expect(page.get_by_role("button", name="Run")).to_be_enabled()
        expect(page.get_by_label("Phase")).to_have_text("Idle")
        browser.close()
