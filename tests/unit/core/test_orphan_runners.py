"""A runner left behind by a killed local server is stopped on restart, and only if the pid is still that runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from supertest.local.orphan_runners import record_runner, stop_orphan_runner


def _runner(run_id: str) -> subprocess.Popen[bytes]:
    # A stand-in runner: a process of its own session carrying its run id, as the dispatcher launches it.
    env = {**os.environ, "SUPERTEST_RUN_ID": run_id}
    code = "import time; time.sleep(60)"
    return subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)


def test_the_runner_of_the_run_is_stopped(tmp_path: Path) -> None:
    proc = _runner("tr-1")
    record_runner(tmp_path, proc.pid)
    assert stop_orphan_runner(tmp_path, "tr-1")
    assert proc.wait(timeout=10) == -9


def test_a_pid_that_is_another_process_now_is_left_alone(tmp_path: Path) -> None:
    proc = _runner("tr-other")
    try:
        record_runner(tmp_path, proc.pid)
        assert not stop_orphan_runner(tmp_path, "tr-1")
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_no_pidfile_means_nothing_to_stop(tmp_path: Path) -> None:
    assert not stop_orphan_runner(tmp_path, "tr-1")
