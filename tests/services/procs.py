"""Process plumbing for the real test servers: free ports, process groups, readiness, cleanup.

Usable outside pytest (benchmarks, scripts). Every server runs in its own session/process group, apart
from the test process's signals; stop() signals it and escalates to SIGKILL of the whole process tree.
A pidfile per server under the cache root lets the next session kill what a SIGKILLed session (which
ran no atexit handlers) left behind.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self

CACHE_ROOT = Path(os.environ.get("SUPERTEST_CACHE") or Path.home() / ".cache" / "supertest")
PIDFILE_DIR = CACHE_ROOT / "run"
LOG_TAIL_LINES = 40


class ServiceError(RuntimeError):
    """A test server could not be built, started or reached."""


def free_port() -> int:
    """A currently free loopback port. Another process may take it before the server binds, which a
    server start then reports as a failure with its log; on a test machine that is rare enough."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_workdir(prefix: str) -> Path:
    base = os.environ.get("SUPERTEST_SERVICES_TMP")  # default: the system temp dir
    return Path(tempfile.mkdtemp(prefix=f"supertest-{prefix}-", dir=base))


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<no log at {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:]) or "<empty log>"


def as_user(user: str | None) -> dict[str, Any]:
    """Popen arguments that run the child as user with that user's primary group and no supplementary
    groups (user= alone would keep root's groups)."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def run_checked(argv: Sequence[str], *, what: str, user: str | None = None, timeout: float = 120) -> str:
    """Run a setup command; raise ServiceError naming the step with its output on failure."""
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            **as_user(user),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(f"{what}: {exc}") from exc
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).splitlines()[-LOG_TAIL_LINES:])
        raise ServiceError(f"{what} failed (exit {done.returncode}): {' '.join(argv)}\n{output}")
    return str(done.stdout)  # str() only for mypy: **as_user() hides the text=True overload


def _start_time(pid: int) -> int | None:
    """Kernel start time of a live pid (clock ticks since boot), to tell it from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces, so split after its closing paren.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None  # a zombie is dead, just not yet reaped (PID 1 in a container may never reap it)
    return int(fields[19])  # field 22: starttime


def pid_running(pid: int) -> bool:
    """pid exists and is not a zombie."""
    return _start_time(pid) is not None


def _alive(pid: int, start: int | None) -> bool:
    return start is not None and _start_time(pid) == start


@dataclass
class ManagedProcess:
    """A server process in its own process group, with its log file and a pidfile for stale cleanup."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    pidfile: Path
    stop_signal: signal.Signals = signal.SIGTERM
    _log: IO[bytes] | None = field(default=None, repr=False)

    @classmethod
    def spawn(
        cls,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        cleanup_dir: Path,
        user: str | None = None,
        env: dict[str, str] | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> ManagedProcess:
        log = log_path.open("ab")
        try:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                cwd=cleanup_dir,
                **as_user(user),
            )
        except OSError as exc:
            log.close()
            raise ServiceError(f"{name}: cannot execute {argv[0]}: {exc}") from exc
        pidfile = _write_pidfile(name, popen.pid, cleanup_dir)
        return cls(name, popen, log_path, pidfile, stop_signal, log)

    def exited(self) -> bool:
        return self.popen.poll() is not None

    def log_tail(self) -> str:
        return tail(self.log_path)

    def stop(self, timeout: float = 10) -> None:
        """Signal the group (servers shut down their own children), escalate to SIGKILL of the whole
        tree after timeout, reap, drop the pidfile."""
        if self.popen.poll() is None:
            _killpg(self.popen.pid, self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        if self.popen.poll() is None:
            # Only while the leader is unreaped is its pid sure to still name our group.
            kill_tree(self.popen.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        self.pidfile.unlink(missing_ok=True)


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _descendants(pid: int) -> list[int]:
    """All descendants of pid, found via /proc (children that called setsid() escape killpg)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL pid's process group and every descendant. Postgres puts each child in its own
    process group, so the group alone is not enough."""
    descendants = _descendants(pid)
    _killpg(pid, signal.SIGKILL)
    for child in descendants:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, signal.SIGKILL)


def _write_pidfile(name: str, pid: int, cleanup_dir: Path) -> Path:
    PIDFILE_DIR.mkdir(parents=True, exist_ok=True)
    record = {
        "name": name,
        "pid": pid,
        "start": _start_time(pid),
        "owner": os.getpid(),
        "owner_start": _start_time(os.getpid()),
        "cleanup_dir": str(cleanup_dir),
    }
    path = PIDFILE_DIR / f"{name}-{pid}.json"
    path.write_text(json.dumps(record))
    return path


def reap_stale() -> list[str]:
    """Kill servers whose owning session died without cleanup; leave live sessions' servers alone."""
    reaped: list[str] = []
    for pidfile in sorted(PIDFILE_DIR.glob("*.json")):
        try:
            record = json.loads(pidfile.read_text())
        except (OSError, ValueError):
            pidfile.unlink(missing_ok=True)
            continue
        if _alive(record["owner"], record["owner_start"]):
            continue  # another test session (or xdist worker) is using it
        if _alive(record["pid"], record["start"]):
            kill_tree(record["pid"])
            reaped.append(f"{record['name']} pid {record['pid']}")
        shutil.rmtree(record["cleanup_dir"], ignore_errors=True)
        pidfile.unlink(missing_ok=True)
    return reaped


def wait_for(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    process: ManagedProcess | None = None,
) -> None:
    """Poll ready() until it returns True, the deadline passes, or the process dies (fail fast)."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if process is not None and process.exited():
            raise ServiceError(
                f"{what}: process exited with code {process.popen.returncode} before becoming ready; "
                f"log:\n{process.log_tail()}"
            )
        if ready():
            return
        if time.monotonic() >= deadline:
            log = f"; log:\n{process.log_tail()}" if process else ""
            raise ServiceError(f"{what}: not ready after {timeout:.0f}s{log}")
        time.sleep(delay)  # poll interval, not synchronisation: the deadline above bounds the wait
        delay = min(delay * 2, 0.25)


class Service:
    """Base for the servers: one process plus a private workdir.

    start() boots a server or tears down whatever it got to; stop() is idempotent and also registered
    with atexit, so a crashed test run or a forgotten stop() leaves no process or directory behind.
    """

    label = "service"

    def __init__(self, host: str = "127.0.0.1") -> None:
        reap_stale()
        # Loopback by default; the e2e tier's real node binds its services on the node IP, where pods reach them.
        self.host = host
        self.process: ManagedProcess | None = None
        self.workdir = make_workdir(self.label)
        atexit.register(self.stop)

    @classmethod
    def start(cls, timeout: float = 60, host: str = "127.0.0.1") -> Self:
        service = cls(host)
        try:
            service._boot(timeout)
        except BaseException:
            service.stop()
            raise
        return service

    def _boot(self, timeout: float) -> None:
        """First start: prepare the workdir (once), then launch."""
        self._launch(timeout)

    def _launch(self, timeout: float) -> None:
        """Start the server process on the same port and data as before, and wait until it serves."""
        raise NotImplementedError

    def halt(self) -> None:
        """Stop the process but keep port, credentials and data: a crash or an outage (the fault tier)."""
        if self.process is not None:
            self.process.stop()
            self.process = None

    def resume(self, timeout: float = 60) -> None:
        """Start again after halt(), on the same port with the same data, as a restarted server would."""
        assert self.process is None, f"{self.label} is still running"
        self._launch(timeout)

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.label} is not running"
        return self.process.popen.pid

    def _spawn(self, argv: Sequence[str], **kwargs: Any) -> ManagedProcess:
        self.process = ManagedProcess.spawn(
            self.label, argv, log_path=self.workdir / f"{self.label}.log", cleanup_dir=self.workdir, **kwargs
        )
        return self.process

    def stop(self) -> None:
        atexit.unregister(self.stop)
        if self.process is not None:
            self.process.stop()
            self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
