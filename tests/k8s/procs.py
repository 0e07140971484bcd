"""Process-group management shared by the control plane and the node agent.

Every child runs in its own session (hence its own process group), so killing the group also kills anything it
forked. Three safety nets make sure nothing outlives the test session:

1. the owner stops its groups explicitly (fixture teardown, `with ControlPlane.start()`);
2. `atexit` and SIGTERM/SIGHUP handlers kill every group still registered in this process;
3. a pidfile per session under `<cache root>/k8s/run/` records the children (pid + kernel start time); the
   next session kills the children of sessions whose owner is dead (e.g. pytest got SIGKILL), after checking
   that the pid still belongs to the same process (start time) and, for control-plane binaries, still runs our
   binary.

Children also get PR_SET_PDEATHSIG=SIGKILL, so on Linux they usually die with their parent even on SIGKILL.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

_PR_SET_PDEATHSIG = 1


def cache_root() -> Path:
    return Path(os.environ.get("SUPERTEST_CACHE") or Path.home() / ".cache" / "supertest")


@dataclass(frozen=True)
class ChildRecord:
    """What the pidfile remembers about a child, enough to recognise it safely later."""

    pid: int
    start_time: int  # field 22 of /proc/<pid>/stat: distinguishes a reused pid
    exe: str  # expected /proc/<pid>/exe, or "" when it is not one of our binaries (pod commands)
    label: str


def proc_start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; fields after the last ')' are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def is_running(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) pids whose process group is `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


# Resolved once in the parent: dlopen between fork and exec of a multi-threaded process could deadlock.
_prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl


def _set_pdeathsig() -> None:
    # Runs in the child between fork and exec: ask the kernel to SIGKILL us when the parent *thread* dies
    # (so start long-lived children from a thread that outlives them, e.g. the main thread).
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class _Registry:
    """Process groups alive in this Python process, plus this session's pidfile."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._children: dict[int, ChildRecord] = {}
        self._dirs: set[str] = set()
        self._pidfile: Path | None = None
        self._handlers_installed = False

    def add(self, record: ChildRecord) -> None:
        with self._lock:
            self._install_handlers()
            self._children[record.pid] = record
            self._write_pidfile()

    def remove(self, pid: int) -> None:
        with self._lock:
            self._children.pop(pid, None)
            self._write_pidfile()

    def add_dir(self, path: Path) -> None:
        """Record a scratch dir so that a later session can delete it if this one dies without cleanup."""
        with self._lock:
            self._dirs.add(str(path))
            self._write_pidfile()

    def remove_dir(self, path: Path) -> None:
        with self._lock:
            self._dirs.discard(str(path))
            self._write_pidfile()

    def kill_all(self) -> None:
        """Last resort (atexit / signal): SIGKILL every registered group without waiting."""
        for pid in list(self._children):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        self._children.clear()
        if self._pidfile is not None:
            self._pidfile.unlink(missing_ok=True)

    def _write_pidfile(self) -> None:
        if self._pidfile is None:
            run_dir = cache_root() / "k8s" / "run"
            run_dir.mkdir(parents=True, exist_ok=True)
            self._pidfile = run_dir / f"session-{os.getpid()}.json"
        if not self._children and not self._dirs:
            self._pidfile.unlink(missing_ok=True)
            return
        data = {
            "owner_pid": os.getpid(),
            "owner_start_time": proc_start_time(os.getpid()),
            "children": [asdict(c) for c in self._children.values()],
            "dirs": sorted(self._dirs),
        }
        tmp = self._pidfile.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self._pidfile)

    def _install_handlers(self) -> None:
        if self._handlers_installed:
            return
        self._handlers_installed = True
        atexit.register(self.kill_all)
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) is signal.SIG_DFL:
                signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Clean up, then die of the same signal so the parent sees the usual exit status.
        self.kill_all()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


REGISTRY = _Registry()


def spawn(
    argv: Sequence[str],
    *,
    label: str,
    log: IO[bytes],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    our_binary: bool = True,
) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session, stdout+stderr to `log`, and register it for cleanup."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_set_pdeathsig,
    )
    exe = os.path.realpath(argv[0]) if our_binary else ""
    REGISTRY.add(ChildRecord(proc.pid, proc_start_time(proc.pid) or 0, exe, label))
    return proc


def stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> int:
    """SIGTERM the process group, SIGKILL it after `grace` seconds; reap the leader; return its exit code.

    Members of the group that outlive the leader are SIGKILLed too.
    """
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        proc.wait()
    _kill_stragglers(pgid)
    REGISTRY.remove(proc.pid)
    return proc.returncode


def _kill_stragglers(pgid: int) -> None:
    deadline = time.monotonic() + 5
    while group_members(pgid) and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.02)  # the kernel needs a moment to tear the processes down


def reap_stale_sessions() -> list[str]:
    """Kill children recorded by sessions whose owner is gone and delete their scratch dirs.

    Returns a description of each process killed.
    """
    run_dir = cache_root() / "k8s" / "run"
    killed: list[str] = []
    if not run_dir.is_dir():
        return killed
    for pidfile in run_dir.glob("session-*.json"):
        try:
            data: dict[str, Any] = json.loads(pidfile.read_text())
        except (OSError, ValueError):
            pidfile.unlink(missing_ok=True)
            continue
        if proc_start_time(data["owner_pid"]) == data.get("owner_start_time"):
            continue  # that session is still alive (this one, or e.g. a concurrent pytest run)
        for child in (ChildRecord(**c) for c in data.get("children", [])):
            if _still_ours(child):
                with contextlib.suppress(OSError):
                    os.killpg(child.pid, signal.SIGKILL)
                killed.append(f"{child.label} (pid {child.pid})")
        for scratch in data.get("dirs", []):
            if Path(scratch).name.startswith("supertest-"):  # never delete anything we did not create
                shutil.rmtree(scratch, ignore_errors=True)
        pidfile.unlink(missing_ok=True)
    return killed


def _still_ours(child: ChildRecord) -> bool:
    if proc_start_time(child.pid) != child.start_time:
        return False
    if not child.exe:
        return True
    try:
        return os.readlink(f"/proc/{child.pid}/exe") == child.exe
    except OSError:
        return False
