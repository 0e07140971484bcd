"""Runner processes that outlived their dispatcher (the server was killed): found again and stopped on restart.

Each runner runs in its own session, so a SIGKILL of `supertest dev` leaves it running. A restarted dispatcher
requeues the run; without this, the old runner and the new one would both run it, over the running capacity.
Runners are found in /proc by what the dispatcher put in their environment (the run's id, and its folder under
this home), which also finds one launched in the instant before the kill; where /proc is missing (macOS) an orphan
finishes on its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

import structlog

from supertest.local.runner_env import run_dir_of

log = structlog.get_logger("supertest.dispatcher")
GONE_TIMEOUT_SECONDS = 10.0
RUNNER_MODULE = b"supertest_runner"


def _environ(pid: str) -> dict[bytes, bytes]:
    try:
        if RUNNER_MODULE not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return {}
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # gone, or another user's
        return {}
    return dict(item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)


def find_runners(home: Path, run_ids: Iterable[str], proc: Path = Path("/proc")) -> dict[int, str]:
    """pid -> run id of the runner processes of this home running one of `run_ids`."""
    wanted = {r.encode() for r in run_ids}
    found: dict[int, str] = {}
    if not wanted or not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        env = _environ(entry.name)
        run_id = env.get(b"SUPERTEST_RUN_ID")
        if run_id in wanted and env.get(b"SUPERTEST_HOME") == str(run_dir_of(home, run_id.decode())).encode():
            found[int(entry.name)] = run_id.decode()
    return found


def stop_orphan_runners(home: Path, run_ids: Iterable[str]) -> dict[int, str]:
    """SIGKILL the process groups of these runs' runners and wait (bounded) until they are gone."""
    ids = list(run_ids)
    runners = find_runners(home, ids)
    for pid, run_id in runners.items():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # its own session: the group is the runner and its Playwright children
        log.warning("orphan_runner_stopped", run_id=run_id, pid=pid)
    # Gone before the runs are requeued, or for a moment the old and the new runner would both hold a slot.
    deadline = time.monotonic() + GONE_TIMEOUT_SECONDS
    while runners and find_runners(home, ids) and time.monotonic() < deadline:
        time.sleep(0.02)  # a SIGKILLed process is gone within milliseconds; bounded by the deadline
    return runners
