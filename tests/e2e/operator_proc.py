"""The operator as a subprocess (`python -m supertest_operator`): start, wait ready, SIGKILL, restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.k8s.rbac import webhook_config_name
from tests.k8s.wait import wait_for

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class OperatorProcess:
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    probe_port: int = field(default_factory=free_port)

    def start(self, timeout: float = 60.0) -> OperatorProcess:
        env = {**self.env, "PROBE_PORT": str(self.probe_port), "PROBE_HOST": "127.0.0.1"}
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== operator start #{self.starts} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "supertest_operator"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self._ready, timeout=timeout, interval=0.2, message=lambda: f"operator ready\n{self.tail()}")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"operator exited with {self.proc.returncode}\n{self.tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.probe_port}/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.probe_port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    def healthz(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.probe_port}/healthz", timeout=5) as resp:
            return int(resp.status)

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup handlers, exactly like a node crash."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def operator_env(
    *,
    kubeconfig: Path,
    namespace: str,
    redis_url: str,
    database_url: str,
    s3_env: dict[str, str],
    playwright_env: dict[str, str],
    runner_image: str = "supertest-runner:e2e",
    overrides: dict[str, str] | None = None,
) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env = {
        **keep,
        **s3_env,
        "KUBECONFIG": str(kubeconfig),
        "RUN_BACKEND": "kubernetes",
        "SUPERTEST_NAMESPACES": namespace,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "RUNNER_IMAGE": runner_image,
        "RUNNER_COMMAND": "python -m supertest_runner",
        "RUNNER_EXTRA_ENV": json.dumps(playwright_env),
        "S3_CREDENTIALS_SECRET": "supertest-s3",
        # The harness runs no API for the pods to post to: they get Redis and S3 themselves (development mode).
        "RUNNER_DIRECT_CREDENTIALS": "true",
        "PW_TRACE": "off",
        "PW_VIDEO": "off",
        "PW_SCREENSHOT": "off",
        "MAX_CONCURRENT_TESTS": "1",
        "WEBHOOK_HOST": "127.0.0.1",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(free_port()),
        "WEBHOOK_CONFIG_NAME": webhook_config_name(namespace),
        "RECONCILE_INTERVAL_SECONDS": "1",
        "ORPHAN_INTERVAL_SECONDS": "5",
        "RETENTION_INTERVAL_SECONDS": "3600",
        "LOG_FORMAT": "json",
        "TIMEOUT_GRACE_SECONDS": "5",
        "RETRY_BACKOFF_SECONDS": "1",
    }
    env.update(overrides or {})
    return env
