"""Local mode: a test printing a 2 MiB and a 10 MB line ends in its true phase, frees its slot, and is not run
again after a restart. Before, the dispatcher's relay died on the first line over its 1 MiB read limit: the run
stayed Running for ever with its slot held, and a restart ran it again."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.local_server import local_server

pytestmark = pytest.mark.browser

LONG_LINES_PASS = """\
import { test } from '@playwright/test';

test('prints two very long lines', async () => {
  console.log('a'.repeat(2 * 1024 * 1024));
  console.log('b'.repeat(10 * 1000 * 1000));
  console.log('after the long lines');
});
"""

LONG_LINE_FAIL = """\
import { test, expect } from '@playwright/test';

test('prints a long line, then fails on purpose', async () => {
  console.log('c'.repeat(2 * 1024 * 1024));
  expect(1).toBe(2);
});
"""
MAX_LINE = 16 * 1024


def submit(client: httpx.Client, script: str) -> str:
    response = client.post("/api/test", json={"script": script})
    assert response.status_code == 202, response.text
    return str(response.json()["runId"])


def replayed_events(client: httpx.Client, run_id: str) -> list[str]:
    """Every event of a finished run, as the SSE endpoint replays it (it ends at the terminal status)."""
    with client.stream("GET", f"/api/test-status/sse/{run_id}", timeout=30) as stream:
        assert stream.status_code == 200
        return [line[len("data:") :] for line in stream.iter_lines() if line.startswith("data:")]


def test_very_long_lines_do_not_break_a_local_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"RUNNING_CAPACITY": "1", "LOG_LINE_MAX_BYTES": str(MAX_LINE)}
    with local_server(home, env) as server, server.client() as client:
        passing, failing = submit(client, LONG_LINES_PASS), submit(client, LONG_LINE_FAIL)
        first = server.wait_terminal(client, passing, timeout=180)
        second = server.wait_terminal(client, failing, timeout=180)  # only runs once the first freed the slot
        assert first["phase"] == "Passed", first
        assert (first["summary"]["passed"], first["summary"]["failed"]) == (1, 0)
        assert second["phase"] == "Failed", second
        assert second["summary"]["failed"] == 1
        assert client.get("/api/capacity").json()["running"] == 0

        events = replayed_events(client, passing)
        assert any("after the long lines" in data for data in events)
        truncated = [data for data in events if "line truncated" in data]
        assert len(truncated) >= 2, [data[:200] for data in events]
        assert max(len(data) for data in events) < MAX_LINE + 4096  # JSON framing around a cut line
        attempts = {run_id: client.get(f"/api/runs/{run_id}").json()["attempts"] for run_id in (passing, failing)}

    with local_server(home, env) as server, server.client() as client:
        for run_id, phase in ((passing, "Passed"), (failing, "Failed")):
            row = client.get(f"/api/runs/{run_id}").json()
            assert (row["phase"], row["attempts"]) == (phase, attempts[run_id]), row
        assert client.get("/api/capacity").json()["running"] == 0
        assert "requeued" not in server.log_tail(400)
