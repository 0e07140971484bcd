"""Local mode keeps its state in ./.supertest and never writes to $HOME; it refuses to serve beyond loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.local_server import local_server
from tests.support.scripts import PASSING

pytestmark = pytest.mark.browser


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SUPERTEST_HOME"}
    env["HOME"] = str(home)
    return env


def test_state_lands_in_cwd_dot_supertest_and_home_stays_empty(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    cwd.mkdir()
    state = cwd / ".supertest"
    # The pinned Playwright install is read from the real cache (SUPERTEST_CACHE), never written there by a run.
    cache = os.environ.get("SUPERTEST_CACHE") or str(Path.home() / ".cache" / "supertest")
    env = {"HOME": str(home), "SUPERTEST_CACHE": cache, "PW_VIDEO": "off", "PW_TRACE": "off"}
    with local_server(state, env, cwd=cwd) as srv, srv.client() as client:
        response = client.post("/api/test", json={"script": PASSING, "title": "state-dir"})
        assert response.status_code == 202, response.text
        row = srv.wait_terminal(client, response.json()["runId"], timeout=180)
        assert row["phase"] == "Passed", (row["message"], srv.log_tail())
        assert list(home.iterdir()) == []
    for name in ("supertest.db", "dev-api-key", "session.key", "artifacts"):
        assert (state / name).exists(), f"{name} not in ./.supertest: {sorted(p.name for p in state.iterdir())}"
    assert list(home.iterdir()) == [], "supertest dev wrote into $HOME"
    assert sorted(p.name for p in cwd.iterdir()) == [".supertest"]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_dev_refuses_a_non_loopback_host_without_allow_remote(tmp_path: Path, host: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "supertest.cli.main", "dev", "--no-browser", "--host", host, "--port", "1"],
        cwd=tmp_path,
        env=_clean_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert f"refusing --host {host}" in done.stderr and "--allow-remote" in done.stderr, done.stderr
    assert not (tmp_path / ".supertest").exists(), "refused before touching any state"
