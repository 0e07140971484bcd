"""Local mode with real Playwright and Chromium: a three-test script where one test fails; re-running its failed
tests runs exactly that one (summary, per-test rows), in a new run linked to the original."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.local_server import LocalServer, local_server, wait_for

pytestmark = pytest.mark.browser

THREE_TESTS = """\
const { test, expect } = require('@playwright/test');

test.describe('shop', () => {
  test('lists items', async ({ page }) => {
    await page.setContent('<li>a</li><li>b</li>');
    await expect(page.locator('li')).toHaveCount(2);
  });
  test('lists items twice', async ({ page }) => {
    await page.setContent('<li>a</li>');
    await expect(page.locator('li')).toHaveCount(2, { timeout: 300 });
  });
});

test('home', async ({ page }) => {
  await page.setContent('<h1>home</h1>');
  await expect(page.locator('h1')).toHaveText('home');
});
"""
# The local workspace numbers its files (01-test.spec.js); the ids below are read back with that prefix.
FILE = "01-test.spec.js"
FAILING = f"{FILE} > shop > lists items twice"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    env = {"RUNNING_CAPACITY": "1", "QUEUED_CAPACITY": "5", "PW_VIDEO": "off", "PW_TRACE": "off"}
    with local_server(tmp_path_factory.mktemp("rerun-failed"), env) as srv:
        yield srv


def health_runs(client: httpx.Client) -> dict[str, int]:
    items = client.get("/api/tests/health", params={"limit": 500}).json()["items"]
    return {str(i["testId"]): int(i["runs"]) for i in items}


def test_rerun_failed_runs_exactly_the_failed_test(server: LocalServer):
    with server.client() as client:
        submitted = client.post("/api/test", json={"script": THREE_TESTS, "title": "shop"})
        assert submitted.status_code == 202, submitted.text
        original = server.wait_terminal(client, submitted.json()["runId"], timeout=240)
        assert original["phase"] == "Failed", original
        assert (original["summary"]["total"], original["summary"]["failed"]) == (3, 1)
        # The per-test rows are written once the run is final: poll against a deadline.
        wait_for(lambda: len(health_runs(client)) == 3, 30, what="the original's rows")

        response = client.post(f"/api/runs/{original['runId']}/rerun", params={"only": "failed"})
        assert response.status_code == 202, response.text
        rerun = server.wait_terminal(client, response.json()["runId"], timeout=240)

        assert rerun["rerunOf"] == original["runId"]
        assert rerun["onlyTests"] == [FAILING]
        assert rerun["phase"] == "Failed", rerun  # it fails again: the selection ran it, and only it
        assert (rerun["summary"]["total"], rerun["summary"]["failed"], rerun["summary"]["passed"]) == (1, 1, 0)
        runs = wait_for(lambda: (h := health_runs(client)).get(FAILING) == 2 and h, 30, what="the re-run's row")
        assert runs == {FAILING: 2, f"{FILE} > shop > lists items": 1, f"{FILE} > home": 1}

        # The re-run of a re-run is possible; a run without failures has nothing to re-run.
        passed = client.post("/api/test", json={"script": THREE_TESTS.replace("toHaveCount(2, {", "toHaveCount(1, {")})
        green = server.wait_terminal(client, passed.json()["runId"], timeout=240)
        assert green["phase"] == "Passed", green
        refused = client.post(f"/api/runs/{green['runId']}/rerun", params={"only": "failed"})
        assert refused.status_code == 409 and "no failed tests" in refused.json()["message"]


def test_rerun_of_a_sharded_job_runs_its_failed_test_in_one_runner(server: LocalServer):
    passing = THREE_TESTS.replace("toHaveCount(2, {", "toHaveCount(1, {")
    tests = [{"name": "green", "script": passing}, {"name": "red", "script": THREE_TESTS}]
    with server.client() as client:
        submitted = client.post("/api/jobs/run", json={"tests": tests, "shards": 2, "title": "sharded"})
        assert submitted.status_code == 202, submitted.text
        original = server.wait_terminal(client, submitted.json()["runId"], timeout=240)
        assert original["phase"] == "Failed", original
        assert (original["summary"]["total"], original["summary"]["failed"]) == (6, 1)
        # The merged report names the red file as its shard's workspace did; read the id back from the rows.
        red = wait_for(
            lambda: [t for t in health_runs(client) if "red.spec.js > shop > lists items twice" in t],
            30,
            what="the sharded run's rows",
        )
        assert len(red) == 1, red
        failing = red[0]

        response = client.post(f"/api/runs/{original['runId']}/rerun", params={"only": "failed"})
        assert response.status_code == 202, response.text
        rerun = server.wait_terminal(client, response.json()["runId"], timeout=240)
        assert rerun["onlyTests"] == [failing], rerun
        assert (rerun["summary"]["total"], rerun["summary"]["failed"]) == (1, 1), rerun
        wait_for(lambda: health_runs(client).get(failing) == 2, 30, what="the re-run's row")
