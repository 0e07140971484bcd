"""The run page's "Re-run failed" button in Chromium: shown on a run that finished with a failed test (and not on
a passed one); it starts a run of only that test, opens it, and the new run links back to its original."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e_ui.helpers import sign_in
from tests.support.local_server import LocalServer

pytestmark = pytest.mark.browser

TWO_TESTS = """\
const { test, expect } = require('@playwright/test');
test('rerun ui fine', async ({ page }) => {
  await page.setContent('<p>ok</p>');
  await expect(page.locator('p')).toHaveText('ok');
});
test('rerun ui broken', async ({ page }) => {
  await page.setContent('<p>ok</p>');
  await expect(page.locator('p')).toHaveText('no', { timeout: 300 });
});
"""


def test_rerun_failed_button_starts_a_linked_run_of_the_failed_test(page: Page, server: LocalServer) -> None:
    with server.client() as client:
        failed = server.wait_terminal(
            client, client.post("/api/test", json={"script": TWO_TESTS, "title": "rerun ui"}).json()["runId"], 180
        )
        passed = server.wait_terminal(
            client, client.post("/api/test", json={"script": TWO_TESTS.replace("'no'", "'ok'")}).json()["runId"], 180
        )
    assert failed["phase"] == "Failed" and passed["phase"] == "Passed", (failed, passed)

    sign_in(page, server, f"/runs/{passed['runId']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Playground run")  # the page is loaded
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)  # and knows the run is finished
    expect(page.get_by_role("button", name="Re-run failed")).to_have_count(0)

    page.goto(f"{server.url}/runs/{failed['runId']}")
    page.get_by_role("button", name="Re-run failed").click()
    expect(page).not_to_have_url(re.compile(f"/runs/{failed['runId']}$"), timeout=15_000)
    new_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page.get_by_role("heading", level=1)).to_have_text("Re-run failed of rerun ui")
    expect(page.get_by_role("link", name=failed["runId"])).to_be_visible()

    with server.client() as client:
        rerun = server.wait_terminal(client, new_id, 180)
    assert rerun["rerunOf"] == failed["runId"]
    assert len(rerun["onlyTests"]) == 1 and rerun["onlyTests"][0].endswith(" > rerun ui broken")
    assert (rerun["summary"]["total"], rerun["summary"]["failed"]) == (1, 1)
