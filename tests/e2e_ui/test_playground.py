"""Playground: sign in, run a passing and a failing script live, read the report, save as a test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e_ui.helpers import record_phases, seen_phases, set_script, shoot, sign_in
from tests.support.local_server import LocalServer, wait_for
from tests.support.scripts import FAILING, HANG, PASSING

pytestmark = pytest.mark.browser
RUN_TIMEOUT = 120_000


def test_sign_in_refuses_a_wrong_key_then_signs_in(page: Page, server: LocalServer, screenshots: Path) -> None:
    page.goto("/runs")
    expect(page.get_by_role("heading", name="Sign in to Supertest")).to_be_visible()
    shoot(page, screenshots, "login")
    page.get_by_label("API key").fill("st_wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid API key")
    page.get_by_label("API key").fill(server.api_key)
    page.get_by_role("button", name="Log in").click()
    # Back where the user was going, signed in; the session survives a reload.
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    page.reload()
    expect(page.get_by_role("link", name="Runs", exact=True)).to_have_attribute("aria-current", "page")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("API key")).to_be_visible()


def test_passing_script_runs_live_and_shows_its_report(page: Page, server: LocalServer, screenshots: Path) -> None:
    sign_in(page, server, "/playground")
    set_script(page, PASSING)
    record_phases(page)
    with server.client() as api:
        # Two long runs hold both running slots, so the page's run really waits in the queue: admission is
        # otherwise fast enough that Queued can be replaced before the badge ever paints it.
        blockers = [api.post("/api/test", json={"script": HANG, "timeoutSeconds": 300}).json()["runId"] for _ in "ab"]
        wait_for(lambda: api.get("/api/capacity").json()["running"] == 2, 120, what="both slots held")
        page.get_by_role("button", name="Run").click()
        expect(page.get_by_text("Playground run queued")).to_be_visible()
        expect(page.get_by_label("Phase")).to_have_text("Queued")
        for run_id in blockers:
            assert api.post(f"/api/runs/{run_id}/cancel").status_code in (200, 202)
    expect(page.get_by_label("Phase")).to_have_text("Passed", timeout=RUN_TIMEOUT)
    phases = seen_phases(page)
    assert phases[0] == "Idle" and "Queued" in phases and "Running" in phases and phases[-1] == "Passed", phases
    assert phases.index("Queued") < phases.index("Running"), phases
    expect(page.get_by_text("Playground run finished: Passed")).to_be_visible()
    expect(page.get_by_label("Test counts")).to_have_text("1 passed, 0 failed")
    expect(page.get_by_label("Log")).to_contain_text("1 passed")

    report = page.frame_locator("iframe[title='Report']")
    expect(report.get_by_text("counter increments").first).to_be_visible()
    expect(page.get_by_role("link", name="Screenshot 1")).to_be_visible()
    shoot(page, screenshots, "playground")


def test_failing_script_shows_failed_the_error_and_the_trace(page: Page, server: LocalServer) -> None:
    sign_in(page, server, "/playground")
    set_script(page, FAILING)
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_label("Phase")).to_have_text("Failed", timeout=RUN_TIMEOUT)
    expect(page.get_by_text("Playground run finished: Failed")).to_be_visible()
    expect(page.get_by_label("Test counts")).to_have_text("1 passed, 1 failed")
    expect(page.get_by_role("alert").filter(has_text="Failed:")).to_be_visible()
    # The assertion error itself, as Playwright printed it.
    expect(page.get_by_label("Log")).to_contain_text("expected heading")
    report = page.frame_locator("iframe[title='Report']")
    expect(report.get_by_text("heading is wrong on purpose").first).to_be_visible()

    trace = page.get_by_role("link", name="Trace 1")
    expect(trace).to_have_attribute("href", re.compile(r"/report/trace/index\.html\?trace=.+\.zip"))
    with page.context.expect_page() as opened:
        trace.click()
    viewer = opened.value
    # The trace viewer loads the zip through its service worker, under the same session cookie.
    expect(viewer.get_by_text("toHaveText").first).to_be_visible(timeout=30_000)
    viewer.close()

    # Save it as a stored test, then find it on the Tests page by title and by tag.
    page.get_by_role("button", name="Save as test").click()
    page.get_by_label("Test title").fill("Heading check (fails)")
    page.get_by_label("Tags (comma-separated)").fill("ui-suite, flaky-heading")
    page.get_by_role("button", name="Save test").click()
    expect(page.get_by_text('Saved test "Heading check (fails)"')).to_be_visible()

    page.get_by_role("link", name="Tests", exact=True).click()
    page.get_by_label("Search by title").fill("heading check")
    expect(page.get_by_role("link", name="Heading check (fails)", exact=True)).to_be_visible()
    page.get_by_label("Search by title").fill("")
    page.get_by_label("Filter by tag").fill("flaky-heading")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Heading check (fails)")
    page.get_by_label("Filter by tag").fill("no-such-tag")
    expect(page.get_by_text("No test matches these filters.")).to_be_visible()
