"""Run the real runner (`python -m supertest_runner`) against Debian's Chromium and read its events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from supertest.events import EventType, RunEvent, decode_stdout_event

REPO = Path(__file__).resolve().parents[3]
SETUP_SCRIPT = REPO / "scripts" / "setup-playwright.sh"
# Variables a developer's shell may carry that would point the runner at other services.
_SCRUBBED = ("REDIS_URL", "DATABASE_URL", "S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ARTIFACTS_DIR")


def run_setup(env: dict[str, str] | None = None) -> dict[str, str]:
    """Run scripts/setup-playwright.sh; return the KEY=value lines it prints for callers to export."""
    out = subprocess.run(["bash", str(SETUP_SCRIPT)], capture_output=True, text=True, timeout=300, env=env, check=False)
    assert out.returncode == 0, out.stderr
    pairs = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    assert set(pairs) == {"SUPERTEST_PLAYWRIGHT_DIR", "PLAYWRIGHT_BROWSERS_PATH"}, out.stdout
    return pairs


@pytest.fixture(scope="session")
def playwright_env() -> dict[str, str]:
    return run_setup()


@dataclass
class RunResult:
    returncode: int
    events: list[RunEvent]
    stderr: str
    elapsed: float
    artifacts: Path  # ARTIFACTS_DIR/<kind>/runs/<id>/

    @property
    def statuses(self) -> list[RunEvent]:
        return [e for e in self.events if e.type is EventType.STATUS]

    @property
    def final(self) -> RunEvent:
        assert self.statuses, f"no status events; stderr:\n{self.stderr}"
        return self.statuses[-1]

    @property
    def result(self) -> RunEvent:
        found = [e for e in self.events if e.type is EventType.RESULT]
        assert len(found) == 1, self.events
        return found[0]

    @property
    def log_text(self) -> str:
        return "\n".join(e.line or "" for e in self.events if e.type is EventType.LOG)

    def stored(self) -> list[str]:
        return sorted(p.relative_to(self.artifacts).as_posix() for p in self.artifacts.rglob("*") if p.is_file())

    def explain(self) -> str:
        final = self.statuses[-1].message if self.statuses else None
        return f"exit {self.returncode}; final {final!r}\n--- log\n{self.log_text}\n--- stderr\n{self.stderr}"


@dataclass
class RunnerProcess:
    """A started runner; threads collect its stdout events and stderr as they arrive."""

    proc: subprocess.Popen[str]
    artifacts: Path
    started: float
    events: list[RunEvent] = field(default_factory=list)
    stderr_lines: list[str] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)
    _readers: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._readers = [
            threading.Thread(target=self._read_events, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_events(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = decode_stdout_event(line.rstrip("\n"))
            if event is not None:
                with self._arrived:
                    self.events.append(event)
                    self._arrived.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self.stderr_lines.extend(self.proc.stderr)

    def wait_for_log(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not any(e.type is EventType.LOG and needle in (e.line or "") for e in self.events):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no log line containing {needle!r} within {timeout}s: {self.events}")
                self._arrived.wait(min(remaining, 0.5))

    def finish(self, timeout: float) -> RunResult:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            raise AssertionError(f"runner still running after {timeout}s") from None
        elapsed = time.monotonic() - self.started
        for reader in self._readers:
            reader.join(timeout=10)  # EOF follows the exit unless a stray process holds the pipe
        return RunResult(self.proc.returncode, list(self.events), "".join(self.stderr_lines), elapsed, self.artifacts)


Launcher = Callable[..., RunnerProcess]


@pytest.fixture
def launch(tmp_path: Path, playwright_env: dict[str, str]) -> Iterator[Launcher]:
    """launch(scripts={name: text}, env={...}, kind='test') starts the runner in local mode (stdout events)."""
    started: list[RunnerProcess] = []
    counter = iter(range(1000))

    def start(scripts: dict[str, str], env: dict[str, str] | None = None, kind: str = "test") -> RunnerProcess:
        n = next(counter)
        run_id = f"run-{n}-{os.getpid()}"
        base = tmp_path / f"r{n}"
        scripts_dir = base / "scripts"
        scripts_dir.mkdir(parents=True)
        for name, text in scripts.items():
            (scripts_dir / name).write_text(text)
        full_env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        full_env.update(playwright_env)
        full_env.update(
            SUPERTEST_RUN_ID=run_id,
            SUPERTEST_RUN_KIND=kind,
            SUPERTEST_SCRIPTS_DIR=str(scripts_dir),
            SUPERTEST_WORK_DIR=str(base / "work"),
            ARTIFACTS_DIR=str(base / "artifacts"),
            SUPERTEST_EVENTS_STDOUT="1",
            MAX_CONCURRENT_TESTS="1",
            # Off unless a test asserts them: video and traces cost seconds per test on 2 cores.
            PW_VIDEO="off",
            PW_TRACE="off",
            PW_SCREENSHOT="off",
        )
        full_env.update(env or {})
        proc = subprocess.Popen(
            [sys.executable, "-m", "supertest_runner"],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        runner = RunnerProcess(proc, base / "artifacts" / kind / "runs" / run_id, time.monotonic())
        started.append(runner)
        return runner

    yield start
    for runner in started:
        if runner.proc.poll() is None:
            os.killpg(runner.proc.pid, signal.SIGKILL)
            runner.proc.wait(timeout=10)


@pytest.fixture
def run(launch: Launcher) -> Callable[..., RunResult]:
    """run(scripts, env=..., kind=..., timeout=...) starts the runner and waits for it to exit."""

    def go(scripts: dict[str, str], env: dict[str, str] | None = None, kind: str = "test", timeout: float = 120):
        return launch(scripts, env, kind).finish(timeout)

    return go
