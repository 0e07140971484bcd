"""200 concurrent submissions against QUEUED_CAPACITY=10 and RUNNING_CAPACITY=2, on SQLite and Postgres.

Ten queued runs prove the decision as well as twenty did; each accepted run is a real Playwright run on 2 cores,
and the twenty cost CI about a minute and a half across both databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.local_server import LocalServer, local_server, wait_for
from tests.support.scripts import HANG, PASSING

pytestmark = pytest.mark.browser

QUEUED, RUNNING, BURST = 10, 2, 200


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalServer]:
    env = {
        "QUEUED_CAPACITY": str(QUEUED),
        "RUNNING_CAPACITY": str(RUNNING),
        "PW_VIDEO": "off",
        "PW_TRACE": "off",
        "PW_SCREENSHOT": "off",
    }
    if request.param == "postgres":
        env["DATABASE_URL"] = request.getfixturevalue("fresh_postgres_db")()
    with local_server(tmp_path / "home", env) as srv:
        yield srv


def test_burst_accepts_exactly_what_fits_and_never_over_runs(server: LocalServer):
    with server.client() as client:
        # Two long runs hold both running slots, so nothing leaves the queue while the burst lands:
        # what fits is then exactly QUEUED_CAPACITY.
        blockers = [
            client.post("/api/test", json={"script": HANG, "timeoutSeconds": 600}).json()["runId"]
            for _ in range(RUNNING)
        ]
        wait_for(lambda: client.get("/api/capacity").json()["running"] == RUNNING, 120, what="blockers running")

        peak = {"running": 0}
        stop = threading.Event()

        def sample() -> None:
            with server.client() as sampler:
                while not stop.is_set():
                    peak["running"] = max(peak["running"], sampler.get("/api/capacity").json()["running"])

        sampler_thread = threading.Thread(target=sample, daemon=True)
        sampler_thread.start()

        def post(_: int) -> httpx.Response:
            with server.client() as c:
                return c.post("/api/test", json={"script": PASSING})

        with ThreadPoolExecutor(max_workers=50) as pool:
            responses = list(pool.map(post, range(BURST)))
        codes = [r.status_code for r in responses]
        assert set(codes) <= {202, 429}, codes
        assert codes.count(202) == QUEUED
        rejected = next(r for r in responses if r.status_code == 429)
        assert "QUEUED_CAPACITY" in rejected.json()["message"]
        assert rejected.headers.get("retry-after")

        accepted = [r.json()["runId"] for r in responses if r.status_code == 202]
        for run_id in blockers:
            assert client.post(f"/api/runs/{run_id}/cancel").status_code in (200, 202)
        finals = {run_id: server.wait_terminal(client, run_id, timeout=400) for run_id in accepted + blockers}
        stop.set()
        sampler_thread.join(10)

        assert peak["running"] <= RUNNING
        assert all(finals[r]["phase"] == "Passed" for r in accepted), {r: finals[r]["phase"] for r in accepted}
        assert all(finals[r]["phase"] == "Cancelled" for r in blockers)
        listed = client.get("/api/runs", params={"limit": 200}).json()
        assert listed["total"] == QUEUED + RUNNING
