"""Runners left behind by a killed local server are found by home and run id, and stopped on restart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from supertest.local.orphan_runners import find_runners, stop_orphan_runners
from supertest.local.runner_env import run_dir_of
from tests.k8s.wait import wait_for


def _runner(home: Path, run_id: str) -> subprocess.Popen[bytes]:
    # A stand-in runner: its own session, "supertest_runner" on its command line, the env the dispatcher gives.
    env = {**os.environ, "SUPERTEST_HOME": str(run_dir_of(home, run_id)), "SUPERTEST_RUN_ID": run_id}
    argv = [sys.executable, "-c", "import time; time.sleep(60)", "supertest_runner"]
    return subprocess.Popen(argv, env=env, start_new_session=True)


def test_the_runners_of_the_runs_are_stopped_and_no_others(tmp_path: Path) -> None:
    ours, other_run, other_home = (
        _runner(tmp_path, "tr-1"),
        _runner(tmp_path, "tr-2"),
        _runner(tmp_path / "elsewhere", "tr-1"),
    )
    try:
        found = wait_for(lambda: find_runners(tmp_path, ["tr-1"]), timeout=10, message="the runner to exec")
        assert found == {ours.pid: "tr-1"}
        assert stop_orphan_runners(tmp_path, ["tr-1"]) == {ours.pid: "tr-1"}
        assert ours.wait(timeout=10) == -9
        assert other_run.poll() is None and other_home.poll() is None
        assert find_runners(tmp_path, ["tr-1"]) == {}
    finally:
        for proc in (ours, other_run, other_home):
            proc.kill()
            proc.wait(timeout=10)


def test_no_runs_means_nothing_to_look_for(tmp_path: Path) -> None:
    assert stop_orphan_runners(tmp_path, []) == {}
