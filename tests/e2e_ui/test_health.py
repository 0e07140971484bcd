"""The Health page in Chromium: a test that failed once and passed on its retry shows as flaky, with its
durations; quarantining it from the page (with a reason) is stored, and the page says it is quarantined."""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.e2e_ui.helpers import sign_in
from tests.support.local_server import LocalServer

pytestmark = pytest.mark.browser

FLAKY = """\
const { test, expect } = require('@playwright/test');
test('health flaky probe', async ({ page }, testInfo) => {
  await page.setContent(`<p>${testInfo.retry}</p>`);
  await expect(page.locator('p')).toHaveText('1', { timeout: 500 });
});
"""

# The same file and title, now failing every attempt: quarantined, its failure must not fail the run.
BROKEN = FLAKY.replace("toHaveText('1'", "toHaveText('never'")


def test_a_flaky_test_is_shown_and_quarantined_from_the_health_page(page: Page, server: LocalServer) -> None:
    with server.client() as client:
        for _ in range(2):  # two results: a sparkline needs two points
            res = client.post("/api/jobs/run", json={"tests": [{"name": "probe", "script": FLAKY}], "testRetries": 1})
            assert res.status_code == 202, res.text
            run = server.wait_terminal(client, res.json()["runId"], timeout=180)
            assert run["phase"] == "Passed" and run["summary"]["flaky"] == 1, run

    sign_in(page, server, "/health")
    table = page.get_by_role("table", name="Test health")
    row = table.get_by_role("row").filter(has_text="health flaky probe")
    expect(row).to_have_count(1, timeout=30_000)
    expect(row.get_by_label("Flaky rate")).to_have_text("100%")
    expect(row.get_by_role("img", name="Durations of")).to_be_visible()

    page.once("dialog", lambda dialog: dialog_accept(dialog, "flaky on retry 0"))
    row.get_by_role("button", name="Quarantine").click()
    expect(row.get_by_text("quarantined", exact=True)).to_be_visible()
    expect(row.get_by_role("button", name="Release")).to_be_visible()

    with server.client() as client:
        items = client.get("/api/tests/quarantine").json()["items"]
    [entry] = [i for i in items if i["testId"].endswith("health flaky probe")]
    assert entry["reason"] == "flaky on retry 0" and entry["by"]

    # Quarantined from the page, the test still runs; it fails, and its run is Passed with it counted apart.
    with server.client() as client:
        res = client.post("/api/jobs/run", json={"tests": [{"name": "probe", "script": BROKEN}]})
        assert res.status_code == 202, res.text
        run = server.wait_terminal(client, res.json()["runId"], timeout=180)
    assert run["phase"] == "Passed", run
    assert run["summary"]["quarantined"] == 1 and run["summary"]["failed"] == 0, run["summary"]
    page.goto(f"/runs/{run['runId']}")
    expect(page.get_by_text("0 passed, 0 failed, 1 quarantined")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Re-run failed")).to_have_count(0)  # nothing failed the run
    page.goto("/health")

    page.get_by_label("Show").select_option("quarantined")
    expect(table.get_by_role("row").filter(has_text="health flaky probe")).to_have_count(1)
    row = table.get_by_role("row").filter(has_text="health flaky probe")
    row.get_by_role("button", name="Release").click()
    expect(page.get_by_text("No tests match these filters.")).to_be_visible()


def dialog_accept(dialog: Dialog, text: str) -> None:
    assert dialog.type == "prompt"
    dialog.accept(text)
