"""Local mode runs a sharded job as parallel runner processes under RUNNING_CAPACITY, then merges their reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.local_server import LocalServer, local_server

pytestmark = pytest.mark.browser

# No page fixture (no browser): each test notes when it ran, so the test can count how many ran at once.
TIMED = """\
const {{ test, expect }} = require('@playwright/test');
const fs = require('fs');
test('{name}', async () => {{
  const start = Date.now();
  await new Promise((r) => setTimeout(r, 1500));
  fs.writeFileSync('{marks}/{name}.json', JSON.stringify({{ start, end: Date.now() }}));
  expect({ok}).toBe(true);
}});
"""


def most_at_once(marks: Path) -> int:
    spans = [json.loads(p.read_text()) for p in marks.glob("*.json")]
    edges = sorted([(s["start"], 1) for s in spans] + [(s["end"], -1) for s in spans], key=lambda e: (e[0], e[1]))
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


@pytest.fixture(params=[1, 2], ids=["capacity-1", "capacity-2"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalServer]:
    env = {"RUNNING_CAPACITY": str(request.param), "MAX_CONCURRENT_TESTS": "1", "PW_VIDEO": "off", "PW_TRACE": "off"}
    with local_server(tmp_path / "home", env) as srv:
        srv.capacity = request.param  # type: ignore[attr-defined]
        yield srv


def test_a_job_in_two_shards_finishes_with_one_merged_report(server: LocalServer, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    tests = [
        {"name": f"t{i}", "script": TIMED.format(name=f"t{i}", marks=marks, ok=str(i != 2).lower())} for i in range(4)
    ]
    with server.client() as client:
        response = client.post("/api/jobs/run", json={"tests": tests, "shards": 2})
        assert response.status_code == 202, response.text
        run_id = response.json()["runId"]
        row = server.wait_terminal(client, run_id, timeout=300)
        assert row["phase"] == "Failed", (row, server.log_tail())
        assert (row["summary"]["total"], row["summary"]["passed"], row["summary"]["failed"]) == (4, 3, 1)
        report = client.get(f"/api/test-results/{run_id}/report/index.html", follow_redirects=True)
        assert report.status_code == 200
    stored = server.home / "artifacts" / "job" / "runs" / run_id
    merged = json.loads((stored / "results.json").read_text())
    assert len(merged["suites"]) == 4  # every file, from both shards, in the one results.json
    assert sorted(p.parent.name for p in (stored / "shards").glob("*/blob.zip")) == ["0", "1"]
    # Each shard is one execution: never more at once than the running capacity (one test per shard at a time).
    capacity = server.capacity  # type: ignore[attr-defined]
    assert len(list(marks.glob("*.json"))) == 4
    assert most_at_once(marks) <= capacity


# The first attempt loses its whole runner, as a deleted pod would: the runner (the worker's grandparent) and
# Playwright's process group die by SIGKILL, so no verdict is written. The second attempt passes.
VICTIM = """\
const {{ test, expect }} = require('@playwright/test');
const fs = require('fs');
test('victim', async () => {{
  const marker = '{marks}/victim-attempts';
  const n = fs.existsSync(marker) ? Number(fs.readFileSync(marker, 'utf8')) : 0;
  fs.writeFileSync(marker, String(n + 1));
  if (n === 0) {{
    const stat = fs.readFileSync(`/proc/${{process.ppid}}/stat`, 'utf8');
    const runner = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    process.kill(runner, 'SIGKILL');
    process.kill(-process.ppid, 'SIGKILL');
    await new Promise(() => {{}});
  }}
  expect(n).toBe(1);
}});
"""
COUNTED = """\
const {{ test, expect }} = require('@playwright/test');
const fs = require('fs');
test('{name}', async () => {{
  fs.appendFileSync('{marks}/{name}.runs', 'x');
  expect(1).toBe(1);
}});
"""


def test_a_lost_shard_is_run_again_alone(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    tests = [
        {"name": "victim", "script": VICTIM.format(marks=marks)},
        {"name": "steady", "script": COUNTED.format(name="steady", marks=marks)},
    ]
    env = {"RUNNING_CAPACITY": "2", "MAX_CONCURRENT_TESTS": "1", "PW_VIDEO": "off", "PW_TRACE": "off"}
    with local_server(tmp_path / "home", env) as server, server.client() as client:
        response = client.post("/api/jobs/run", json={"tests": tests, "shards": 2, "retries": 1})
        assert response.status_code == 202, response.text
        run_id = response.json()["runId"]
        row = server.wait_terminal(client, run_id, timeout=300)
        assert row["phase"] == "Passed", (row, server.log_tail())
        assert (row["summary"]["total"], row["summary"]["passed"]) == (2, 2)
    assert (marks / "victim-attempts").read_text() == "2"  # the lost shard ran again
    assert (marks / "steady.runs").read_text() == "x"  # the other shard did not
