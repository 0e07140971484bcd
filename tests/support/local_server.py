"""`supertest dev` started as a real subprocess, exactly as a newcomer runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from supertest.phases import Phase

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll until `predicate` returns something truthy; fail with `what` when the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)  # the poll interval of a deadline-bounded wait, not synchronisation by sleeping
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


@dataclass
class LocalServer:
    url: str
    artifacts_url: str  # the artifacts origin: `supertest dev`'s second port
    home: Path
    api_key: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kw)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_terminal(self, client: httpx.Client, run_id: str, timeout: float = 120) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            body: dict[str, Any] = client.get(f"/api/runs/{run_id}").json()
            return body if Phase(body["phase"]).is_terminal else None

        try:
            result: dict[str, Any] = wait_for(finished, timeout, 0.3, f"run {run_id} to finish")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- server log ---\n{self.log_tail()}") from exc
        return result


@contextmanager
def local_server(
    home: Path, env: dict[str, str] | None = None, startup_timeout: float = 90, cwd: Path | None = None
) -> Iterator[LocalServer]:
    """With `cwd`, the server starts there with no SUPERTEST_HOME, and `home` is where its state should land."""
    port, artifacts_port = free_port(), free_port()
    full_env = {**os.environ, "LOG_LEVEL": "INFO", **(env or {})}
    if cwd is None:
        home.mkdir(parents=True, exist_ok=True)
        log_path = home / "server.log"
        full_env["SUPERTEST_HOME"] = str(home)
    else:
        log_path = cwd.parent / "server.log"  # outside both the cwd and the state folder under test
        full_env.pop("SUPERTEST_HOME", None)
    with log_path.open("ab") as log:  # appended: a restarted server keeps the earlier log
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "supertest.cli.main",
                "dev",
                "--no-browser",
                "--port",
                str(port),
                "--artifacts-port",
                str(artifacts_port),
            ],
            cwd=cwd or REPO,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"supertest dev exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                return httpx.get(url + "/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, startup_timeout, 0.2, "supertest dev to become ready")
        key = (home / "dev-api-key").read_text().strip()
        artifacts_url = f"http://127.0.0.1:{artifacts_port}"
        wait_for(lambda: _answers(artifacts_url + "/healthz"), startup_timeout, 0.2, "the artifacts origin to answer")
        yield LocalServer(
            url=url, artifacts_url=artifacts_url, home=home, api_key=key, process=process, log_path=log_path
        )
    finally:
        stop(process)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def stop(process: subprocess.Popen[bytes], grace: float = 30) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    # Runner subprocesses have their own groups; anything left behind is a bug the tests should see.
