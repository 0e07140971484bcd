"""Tests, jobs and the run history: create/edit/delete tests, a scheduled job of two tests run into one
combined report, run history filters and live updates, and the layout at a narrow width."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e_ui.conftest import watch_foreign_requests
from tests.e2e_ui.helpers import shoot, sign_in
from tests.support.local_server import LocalServer, wait_for

pytestmark = pytest.mark.browser
RUN_TIMEOUT = 120_000


def spec(title: str, text: str) -> str:
    return (
        "import { test, expect } from '@playwright/test';\n\n"
        f"test('{title}', async ({{ page }}) => {{\n"
        f"  await page.setContent('<p>{text}</p>');\n"
        f"  await expect(page.locator('p')).toHaveText('{text}');\n"
        "});\n"
    )


@pytest.fixture(scope="module")
def stored_tests(server: LocalServer) -> dict[str, str]:
    """Two small stored tests, made through the API: creating them is not what these tests are about."""
    ids: dict[str, str] = {}
    with server.client() as client:
        for title, text in (("Checkout renders", "checkout"), ("Search renders", "search")):
            res = client.post("/api/tests", json={"title": title, "script": spec(title.lower(), text), "tags": ["job"]})
            assert res.status_code == 201, res.text
            ids[title] = res.json()["id"]
    return ids


def test_create_edit_and_delete_a_test(page: Page, server: LocalServer) -> None:
    sign_in(page, server, "/tests")
    page.get_by_role("link", name="New test").click()
    page.get_by_label("Title").fill("Throwaway")
    page.get_by_label("Tags (comma-separated)").fill("temp")
    page.get_by_role("button", name="Create test").click()
    expect(page.get_by_text('Created test "Throwaway"')).to_be_visible()
    expect(page.get_by_role("heading", name="Test: Throwaway")).to_be_visible()
    assert re.search(r"/tests/[0-9a-z]+$", page.url)

    page.get_by_label("Title").fill("Throwaway renamed")
    page.get_by_role("button", name="Save test").click()
    expect(page.get_by_role("heading", name="Test: Throwaway renamed")).to_be_visible()

    page.get_by_role("link", name="All tests").click()
    page.get_by_role("button", name="Delete Throwaway renamed").click()
    page.get_by_role("button", name="Confirm delete Throwaway renamed").click()
    expect(page.get_by_text('Deleted test "Throwaway renamed"')).to_be_visible()
    expect(page.get_by_role("link", name="Throwaway renamed")).to_have_count(0)


def test_job_of_two_tests_on_a_schedule_runs_into_one_report(
    page: Page, server: LocalServer, stored_tests: dict[str, str], screenshots: Path
) -> None:
    sign_in(page, server, "/jobs")
    expect(page.get_by_text("No jobs yet")).to_be_visible()
    page.get_by_role("link", name="New job").click()
    page.get_by_label("Name").fill("Nightly smoke")
    for title in ("Search renders", "Checkout renders"):
        page.get_by_label("Test to add").select_option(label=title)
        page.get_by_role("button", name="Add test").click()
    # Reorder: Checkout first.
    page.get_by_role("button", name="Move Checkout renders up").click()
    expect(page.get_by_role("list", name="Job tests").get_by_role("listitem")).to_have_text(
        [re.compile("Checkout renders"), re.compile("Search renders")]
    )

    schedule = page.get_by_label("Cron schedule (optional)")
    schedule.fill("61 * * * *")
    expect(page.get_by_role("alert")).to_contain_text("invalid cron schedule")
    schedule.fill("0 3 * * *")
    expect(page.get_by_role("list", name="Next run times").get_by_role("listitem")).to_have_count(5)
    shoot(page, screenshots, "job-edit")
    page.get_by_role("button", name="Create job").click()
    expect(page.get_by_text('Created job "Nightly smoke"')).to_be_visible()
    expect(page.get_by_role("heading", name="Job: Nightly smoke")).to_be_visible()

    page.get_by_role("link", name="All jobs").click()
    row = page.get_by_role("row").filter(has_text="Nightly smoke")
    expect(row).to_contain_text("Checkout renders → Search renders")
    expect(row).to_contain_text("0 3 * * *")
    row.get_by_role("button", name="Run Nightly smoke now").click()
    expect(page.get_by_text('Job "Nightly smoke" queued')).to_be_visible()
    expect(page.get_by_text('Job "Nightly smoke" finished: Passed')).to_be_visible(timeout=RUN_TIMEOUT)
    shoot(page, screenshots, "jobs")

    row.get_by_role("link", name="History of Nightly smoke").click()
    runs = page.get_by_role("table", name="Runs").locator("tbody tr")
    expect(runs).to_have_count(1)
    expect(runs.first).to_contain_text("2 passed, 0 failed")
    runs.first.get_by_role("link").click()
    expect(page.get_by_label("Phase")).to_have_text("Passed")
    report = page.frame_locator("iframe[title='Report']")
    expect(report.get_by_text("checkout renders").first).to_be_visible()
    expect(report.get_by_text("search renders").first).to_be_visible()
    shoot(page, screenshots, "run-detail")


def test_runs_history_filters_and_live_updates(
    page: Page, server: LocalServer, stored_tests: dict[str, str], screenshots: Path
) -> None:
    checkout = stored_tests["Checkout renders"]
    sign_in(page, server, "/runs")
    table = page.get_by_role("table", name="Runs")
    expect(table).to_be_visible()

    # A run started elsewhere (the API) appears without a reload.
    with server.client() as client:
        res = client.post(f"/api/tests/{checkout}/run")
        assert res.status_code == 202
        run_id = res.json()["runId"]
    row = table.locator(f"tr[data-run-id='{run_id}']")
    expect(row).to_be_visible()
    expect(row.get_by_role("status")).to_have_text("Passed", timeout=RUN_TIMEOUT)
    expect(row).to_contain_text("1 passed, 0 failed")

    page.get_by_label("Test filter").select_option(label="Checkout renders")
    expect(page).to_have_url(re.compile(f"testId={checkout}"))
    expect(table.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Trigger filter").select_option("api")
    expect(table.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Trigger filter").select_option("manual")
    expect(page.get_by_text("No run matches these filters.")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    page.get_by_label("Phase filter").select_option("Passed")
    expect(table.locator("tbody tr").first).to_be_visible()
    for badge in table.get_by_role("status").all():
        expect(badge).to_have_text("Passed")
    page.get_by_label("Phase filter").select_option("Failed")
    expect(page.get_by_text("No run matches these filters.")).to_be_visible()
    page.get_by_label("Job filter").select_option(label="Nightly smoke")
    page.get_by_label("Phase filter").select_option("")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("job")
    page.get_by_role("button", name="Clear filters").click()
    shoot(page, screenshots, "runs")

    page.get_by_role("link", name="Tests", exact=True).click()
    expect(page.get_by_role("link", name="Checkout renders", exact=True)).to_be_visible()
    shoot(page, screenshots, "tests")


@pytest.mark.parametrize("path", ["/playground", "/tests", "/jobs", "/runs", "/capacity", "/health"])
def test_pages_fit_a_narrow_window(browser: Browser, server: LocalServer, path: str) -> None:
    context = browser.new_context(viewport={"width": 400, "height": 800}, base_url=server.url)
    foreign = watch_foreign_requests(context, server.url, server.artifacts_url)
    page = context.new_page()
    try:
        sign_in(page, server, path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        for name in ("Playground", "Tests", "Jobs", "Runs", "Capacity"):
            expect(page.get_by_role("link", name=name, exact=True)).to_be_in_viewport()
        # Nothing pushes the page sideways: wide tables scroll inside their own box.
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{path} is {overflow}px wider than a 400px window"
    finally:
        context.close()
    assert not foreign, foreign


def test_a_job_run_from_its_page_in_two_shards_merges_into_one_report(
    page: Page, server: LocalServer, stored_tests: dict[str, str]
) -> None:
    """The job page's Shards field: two runner processes, each on one of the two test files, then one report."""
    with server.client() as client:
        res = client.post("/api/jobs", json={"name": "Sharded pair", "testIds": list(stored_tests.values())})
        assert res.status_code == 201, res.text
        job_id = res.json()["id"]
    sign_in(page, server, f"/jobs/{job_id}")
    expect(page.get_by_role("heading", name="Job: Sharded pair")).to_be_visible()
    page.get_by_label("Shards").fill("2")
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_text('Job "Sharded pair" finished: Passed')).to_be_visible(timeout=RUN_TIMEOUT)

    def recorded() -> dict[str, object] | None:
        # The live view may say Passed a moment before the row does: the runner's own terminal event is relayed
        # as it happens, the row is written once the merge step has exited.
        with server.client() as client:
            [run] = client.get("/api/runs", params={"jobId": job_id}).json()["items"]
        return run if run["phase"] == "Passed" else None

    run = wait_for(recorded, 30, what="the run's row to say Passed")
    assert run["shards"] == 2 and run["summary"]["passed"] == 2, run
    page.goto(f"/runs/{run['runId']}")
    report = page.frame_locator("iframe[title='Report']")
    expect(report.get_by_text("checkout renders").first).to_be_visible()
    expect(report.get_by_text("search renders").first).to_be_visible()
