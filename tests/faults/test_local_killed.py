"""Local mode: `supertest dev` SIGKILLed mid-burst, then restarted on the same home.

The kill takes the server and its dispatcher, not the runner subprocesses (each has its own session). The
restarted server must bring every accepted run to its true phase with its report, and a sampler of the runner
processes themselves (this mode's pods) must never see more than RUNNING_CAPACITY of them at once, nor two for
one run: an orphaned runner still going when its run is requeued is exactly that.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import defaultdict
from pathlib import Path

import pytest

from supertest.phases import Phase
from tests.faults.harness import CAPACITY, MIX, OUTCOMES, Outcome
from tests.support.local_server import local_server, wait_for

RUNS = 20


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state; the name may contain spaces


class RunnerSampler:
    """Samples the runner processes of one SUPERTEST_HOME from /proc (every 0.1 s: a sampler, not a sync)."""

    def __init__(self, home: Path) -> None:
        self.home = str(home)
        self.peak = 0
        self.duplicates: dict[str, int] = defaultdict(int)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runner-sampler", daemon=True)

    def start(self) -> RunnerSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def runners(self) -> dict[int, str]:
        found: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if b"supertest_runner" not in (entry / "cmdline").read_bytes():
                    continue
                env = dict(
                    item.split(b"=", 1) for item in (entry / "environ").read_bytes().split(b"\0") if b"=" in item
                )
            except OSError:  # gone meanwhile
                continue
            if env.get(b"SUPERTEST_HOME", b"").decode().startswith(f"{self.home}/runs/"):
                found[int(entry.name)] = env.get(b"SUPERTEST_RUN_ID", b"?").decode()
        # A runner's own child between its fork and its exec (Playwright's launch) still shows the runner's command
        # line and environment: it is that runner, not a second one.
        return {pid: run for pid, run in found.items() if _parent(pid) not in found}

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            runners = self.runners()
            self.peak = max(self.peak, len(runners))
            per_run: dict[str, int] = defaultdict(int)
            for run_id in runners.values():
                per_run[run_id] += 1
            for run_id, count in per_run.items():
                if count > 1:
                    self.duplicates[run_id] = max(self.duplicates[run_id], count)


@pytest.mark.timeout(400)
def test_local_server_killed_mid_burst(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"RUNNING_CAPACITY": str(CAPACITY), "QUEUED_CAPACITY": "100", "PW_VIDEO": "off", "PW_TRACE": "off"}
    env["PW_SCREENSHOT"] = "off"
    sampler = RunnerSampler(home).start()
    expected: dict[str, str] = {}
    try:
        with local_server(home, env) as server, server.client() as client:
            for i in range(RUNS):
                _, script, phase = MIX[i % len(MIX)]
                resp = client.post("/api/test", json={"script": script, "timeoutSeconds": 120})
                assert resp.status_code == 202, resp.text
                expected[resp.json()["runId"]] = phase

            def finished() -> int:
                rows = client.get("/api/runs", params={"limit": 100}).json()["items"]
                return sum(1 for r in rows if r["runId"] in expected and Phase(r["phase"]).is_terminal)

            wait_for(lambda: finished() >= CAPACITY, 180, 0.3, "a few runs finished before the kill")
            os.killpg(server.process.pid, signal.SIGKILL)  # the server's group only: runners have their own
            server.process.wait(10)

        with local_server(home, env) as server, server.client() as client:
            finals = {run_id: server.wait_terminal(client, run_id, timeout=240) for run_id in expected}
    finally:
        sampler.stop()

    outcome = Outcome("local server SIGKILLed", len(expected))
    with local_server(home, env) as server, server.client() as client:  # the report is served, not just stored
        for run_id, want in expected.items():
            body = finals[run_id]
            if body["phase"] != want:
                outcome.wrong_phase[run_id] = f"expected {want}, got {body['phase']}: {body.get('message')}"
            if body["phase"] in ("Passed", "Failed"):
                # Asked again of this server: a report URL is signed for, and points at, the server that gave it.
                report_url = client.get(f"/api/runs/{run_id}").json()["reportUrl"]
                status = client.get(report_url, follow_redirects=True).status_code
                if status != 200:
                    outcome.missing_report.append(f"{run_id} ({report_url}: HTTP {status})")
    outcome.overshoot = max(0, sampler.peak - CAPACITY)
    outcome.duplicates = {run_id: [f"{n} runner processes"] for run_id, n in sampler.duplicates.items()}
    OUTCOMES.append(outcome)
    assert outcome.ok, outcome.explain()
