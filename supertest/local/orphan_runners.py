"""Runner processes that outlived their dispatcher (the server was killed): found again and stopped on restart.

Each runner runs in its own session, so a SIGKILL of `supertest dev` leaves it running. A restarted dispatcher
requeues the run; without this, the old runner and the new one would both run it, over the running capacity.
The pid is kept in the run's directory and trusted only if /proc shows the same run's runner behind it (pids are
reused); where /proc is missing (macOS) the orphan is left to finish on its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import structlog

log = structlog.get_logger("supertest.dispatcher")
PIDFILE = "runner.pid"
GONE_TIMEOUT_SECONDS = 10.0


def record_runner(run_dir: Path, pid: int) -> None:
    (run_dir / PIDFILE).write_text(f"{pid}\n")


def _is_runner_of(pid: int, run_id: str) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, not ours, or no /proc
        return False
    return f"SUPERTEST_RUN_ID={run_id}".encode() in environ


def stop_orphan_runner(run_dir: Path, run_id: str) -> bool:
    """SIGKILL the process group of the run's previous runner, if it is still that runner; True if it was."""
    try:
        pid = int((run_dir / PIDFILE).read_text().strip())
    except (OSError, ValueError):
        return False
    if not _is_runner_of(pid, run_id):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)  # its own session: the group is the runner and its Playwright children
    # Gone before the run is requeued, or for a moment the old and the new runner would both hold a slot.
    deadline = time.monotonic() + GONE_TIMEOUT_SECONDS
    while _is_runner_of(pid, run_id) and time.monotonic() < deadline:
        time.sleep(0.02)  # a SIGKILLed process is gone within milliseconds; bounded by the deadline
    log.warning("orphan_runner_stopped", run_id=run_id, pid=pid)
    return True
