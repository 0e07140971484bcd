"""Local mode end to end: `supertest dev`, the dispatcher, the runner and real Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.local_server import LocalServer, local_server, wait_for
from tests.support.scripts import FAILING, HANG, PASSING, SYNTAX_ERROR, TYPESCRIPT

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    env = {"RUNNING_CAPACITY": "3", "QUEUED_CAPACITY": "50", "PW_VIDEO": "on", "PW_TRACE": "on"}
    with local_server(tmp_path_factory.mktemp("local-runs"), env) as srv:
        yield srv


@pytest.fixture
def client(server: LocalServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def submit(client: httpx.Client, script: str, **extra: object) -> str:
    response = client.post("/api/test", json={"script": script, **extra})
    assert response.status_code == 202, response.text
    body = response.json()
    # The stable API path or a signed artifacts-origin URL: either way it names this run's report.
    assert body["reportUrl"].endswith(f"/{body['runId']}/report/index.html"), body["reportUrl"]
    return str(body["runId"])


def report_files(client: httpx.Client, run_id: str) -> httpx.Response:
    # The API redirects to the artifacts origin under a run-scoped token (no cookie, no API key needed there).
    return client.get(f"/api/test-results/{run_id}/report/index.html", follow_redirects=True)


def test_outcomes_end_in_the_right_phase_with_counts_report_and_row(server: LocalServer, client: httpx.Client):
    runs = {
        "pass": submit(client, PASSING, title="passing"),
        "fail": submit(client, FAILING, title="failing"),
        "ts": submit(client, TYPESCRIPT, language="typescript", title="typescript"),
        "syntax": submit(client, SYNTAX_ERROR, title="syntax"),
        "hang": submit(client, HANG, title="hang", timeoutSeconds=10),
    }
    rows = {name: server.wait_terminal(client, run_id, timeout=240) for name, run_id in runs.items()}

    assert rows["pass"]["phase"] == "Passed", rows["pass"]
    assert (rows["pass"]["summary"]["total"], rows["pass"]["summary"]["passed"]) == (1, 1)
    assert rows["fail"]["phase"] == "Failed", rows["fail"]
    assert (rows["fail"]["summary"]["passed"], rows["fail"]["summary"]["failed"]) == (1, 1)
    assert rows["ts"]["phase"] == "Passed", rows["ts"]
    assert rows["ts"]["summary"]["passed"] == 1
    assert rows["syntax"]["phase"] == "Error", rows["syntax"]
    assert "SyntaxError" in (rows["syntax"]["message"] or "") or "Unexpected" in (rows["syntax"]["message"] or "")
    assert rows["hang"]["phase"] == "TimedOut", rows["hang"]

    for name in ("pass", "fail", "ts"):
        row = rows[name]
        assert row["completedAt"] and row["startedAt"] and row["summary"]["durationMs"] > 0
        page = report_files(client, runs[name])
        assert page.status_code == 200 and "text/html" in page.headers["content-type"], name
    # The failing run's report keeps its trace for debugging.
    stored = [p.relative_to(server.home) for p in (server.home / "artifacts").rglob("*") if p.is_file()]
    fail_files = [str(p) for p in stored if runs["fail"] in str(p)]
    assert any(f.endswith(".zip") for f in fail_files), fail_files
    assert any(f.endswith(".webm") for f in fail_files), fail_files
    assert any(f.endswith("results.json") for f in fail_files)
    assert any(f.endswith("logs.txt") for f in fail_files)


def test_cancel_a_running_run(server: LocalServer, client: httpx.Client):
    run_id = submit(client, HANG, title="to cancel", timeoutSeconds=300)
    wait_for(lambda: client.get(f"/api/runs/{run_id}").json()["phase"] == "Running", 120, what="Running")
    response = client.post(f"/api/runs/{run_id}/cancel")
    assert response.status_code in (200, 202), response.text
    row = server.wait_terminal(client, run_id, timeout=60)
    assert row["phase"] == "Cancelled", row
    again = client.post(f"/api/runs/{run_id}/cancel")
    assert again.status_code == 409


def test_cancel_a_queued_run_never_starts_it(server: LocalServer, client: httpx.Client):
    blockers = [submit(client, HANG, title=f"blocker {i}", timeoutSeconds=300) for i in range(3)]
    queued = submit(client, PASSING, title="queued then cancelled")
    assert client.get(f"/api/runs/{queued}").json()["phase"] == "Queued"
    assert client.post(f"/api/runs/{queued}/cancel").status_code in (200, 202)
    row = server.wait_terminal(client, queued, timeout=30)
    assert row["phase"] == "Cancelled" and row["startedAt"] is None
    for run_id in blockers:
        client.post(f"/api/runs/{run_id}/cancel")
    for run_id in blockers:
        assert server.wait_terminal(client, run_id, timeout=90)["phase"] == "Cancelled"


def test_job_run_combines_tests_in_one_report(server: LocalServer, client: httpx.Client):
    tests = [
        {"name": "first", "script": PASSING, "language": "javascript"},
        {"name": "second", "script": TYPESCRIPT, "language": "typescript"},
    ]
    response = client.post("/api/jobs/run", json={"tests": tests})
    assert response.status_code == 202, response.text
    run_id = response.json()["runId"]
    row = server.wait_terminal(client, run_id, timeout=180)
    assert row["phase"] == "Passed", row
    assert row["summary"]["total"] == 2
    assert report_files(client, run_id).status_code == 200


HUGE_LINE = """\
const { test, expect } = require('@playwright/test');
test('prints 10 MB on one line', async () => {
  console.log('x'.repeat(10 * 1024 * 1024));
  process.stdout.write('y'.repeat(3 * 1024 * 1024) + '\\n');
  expect(1).toBe(1);
});
"""


def test_a_10_mb_line_ends_with_its_true_phase_and_the_relay_survives(server: LocalServer, client: httpx.Client):
    """Issue #13: one long console.log killed the dispatcher's relay, leaving the run Running and its slot held."""
    run_id = submit(client, HUGE_LINE, title="huge line")
    row = server.wait_terminal(client, run_id, timeout=240)
    assert row["phase"] == "Passed", row
    assert row["summary"]["passed"] == 1
    after = submit(client, PASSING, title="after the huge line")  # the slot was given back
    assert server.wait_terminal(client, after, timeout=240)["phase"] == "Passed"
    logs = (server.home / "artifacts" / "test" / "runs" / run_id / "logs.txt").read_text()
    assert "line truncated" in logs and len(logs.encode()) < 1024 * 1024
