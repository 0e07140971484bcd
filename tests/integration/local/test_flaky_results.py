"""Local mode end to end with real Playwright and Chromium: a test that fails its first attempt and passes its
retry is counted flaky in the run's summary, in its per-test rows and in the health endpoint; a quarantined
test's failure leaves its run Passed with `quarantined: 1`; the run's JUnit XML is stored and linked."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.support.local_server import LocalServer, local_server, wait_for

pytestmark = pytest.mark.browser

FLAKY_SPEC = """\
const { test, expect } = require('@playwright/test');

test.describe('cart', () => {
  test('fails first, passes on retry', async ({ page }, testInfo) => {
    await page.setContent(`<p>${testInfo.retry}</p>`);
    await expect(page.locator('p')).toHaveText('1', { timeout: 500 });
  });
});

test('steady', async ({ page }) => {
  await page.setContent('<h1>ok</h1>');
  await expect(page.locator('h1')).toHaveText('ok');
});
"""

BROKEN_SPEC = """\
const { test, expect } = require('@playwright/test');

test('always broken', async ({ page }) => {
  await page.setContent('<h1>actual</h1>');
  await expect(page.locator('h1')).toHaveText('expected', { timeout: 300 });
});
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    env = {"RUNNING_CAPACITY": "2", "QUEUED_CAPACITY": "20", "PW_VIDEO": "off", "PW_TRACE": "off"}
    with local_server(tmp_path_factory.mktemp("flaky-results"), env) as srv:
        yield srv


@pytest.fixture
def client(server: LocalServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def run_job(server: LocalServer, client: httpx.Client, **body: object) -> dict[str, object]:
    response = client.post("/api/jobs/run", json=body)
    assert response.status_code == 202, response.text
    return server.wait_terminal(client, response.json()["runId"], timeout=240)


def health_of(client: httpx.Client) -> dict[str, dict[str, object]]:
    """By test id without the file's ordering prefixes (a job's files are numbered in both modes' workspaces)."""
    items = client.get("/api/tests/health", params={"limit": 500}).json()["items"]
    return {str(i["testId"]).lstrip("0123456789-"): i for i in items}


def test_a_test_passing_on_retry_is_flaky_in_summary_rows_and_health(server: LocalServer, client: httpx.Client):
    tests = [{"name": "checkout", "script": FLAKY_SPEC}]
    run = run_job(server, client, tests=tests, testRetries=1, title="flaky job")
    assert run["phase"] == "Passed", run
    summary = run["summary"]
    assert isinstance(summary, dict)
    assert (summary["total"], summary["passed"], summary["flaky"], summary["failed"]) == (2, 1, 1, 0)

    # The per-test rows are written when the run ends: poll the health view against a deadline.
    flaky_id = "checkout.spec.js > cart > fails first, passes on retry"
    health = wait_for(lambda: (h := health_of(client)).get(flaky_id) and h, 30, what="health rows")
    assert health[flaky_id]["flaky"] == 1 and health[flaky_id]["flakyRate"] == 1.0
    assert health["checkout.spec.js > steady"]["flaky"] == 0

    # The same job without retries: the first attempt's failure stands, and the run fails.
    failed = run_job(server, client, tests=tests, title="no retries")
    assert failed["phase"] == "Failed", failed
    health = wait_for(lambda: (h := health_of(client))[flaky_id]["runs"] == 2 and h, 30, what="second result")
    assert health[flaky_id]["failed"] == 1 and health[flaky_id]["flakyRate"] == 0.5
    last = health[flaky_id]["lastFailure"]
    assert isinstance(last, dict) and last["runId"] == failed["runId"]
    assert "toHaveText" in str(last["message"])


def test_junit_xml_is_stored_and_linked(server: LocalServer, client: httpx.Client):
    run = run_job(server, client, tests=[{"name": "broken", "script": BROKEN_SPEC}], title="junit")
    assert run["phase"] == "Failed", run
    junit_url = run["junitUrl"]
    assert isinstance(junit_url, str) and junit_url.endswith(f"/{run['runId']}/junit.xml"), junit_url
    xml = httpx.get(junit_url, follow_redirects=True)
    assert xml.status_code == 200
    assert "<testsuites" in xml.text and 'failures="1"' in xml.text and "always broken" in xml.text


def test_testretries_is_validated(client: httpx.Client):
    tests = [{"name": "x", "script": BROKEN_SPEC}]
    for bad in (-1, 6, "two"):
        response = client.post("/api/jobs/run", json={"tests": tests, "testRetries": bad})
        assert response.status_code == 422, response.text


def test_a_quarantined_failure_leaves_its_run_passed_and_is_recorded(server: LocalServer, client: httpx.Client):
    test_id = "quarantine.spec.js > always broken"
    tests = [{"name": "quarantine", "script": BROKEN_SPEC}]
    first = run_job(server, client, tests=tests, title="before quarantine")
    health = wait_for(lambda: (h := health_of(client)).get(test_id) and h, 30, what="first row")
    full_id = str(health[test_id]["testId"])  # as recorded, with the workspace's file prefix
    assert health[test_id]["quarantined"] is False and health[test_id]["failed"] == 1
    put = client.put("/api/tests/quarantine/" + quote(full_id, safe=""), json={"reason": "known bug"})
    assert put.status_code == 200, put.text
    run = run_job(server, client, tests=tests, title="quarantined")
    assert first["phase"] == "Failed", first
    # The quarantined test still ran and failed; its failure is reported apart and the run passes.
    assert run["phase"] == "Passed", run
    summary = run["summary"]
    assert isinstance(summary, dict)
    assert (summary["total"], summary["failed"], summary["quarantined"]) == (1, 0, 1)
    assert "1 quarantined" in str(run["message"])
    health = wait_for(lambda: (h := health_of(client))[test_id]["runs"] == 2 and h, 30, what="quarantined row")
    assert health[test_id]["quarantined"] is True and health[test_id]["failed"] == 2
    last = health[test_id]["lastFailure"]
    assert isinstance(last, dict) and last["runId"] == run["runId"]
