"""How the API hands runs to a backend: the local dispatcher or Kubernetes resources."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from supertest.rerun import rerun_spec

Language = Literal["javascript", "typescript"]
RunKind = Literal["test", "job"]
Trigger = Literal["manual", "api", "schedule", "kubectl", "cli"]

_TEST_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
# A test run's spec carries no script name (a TestRun's script is `test.spec.<ext>` in its pod).
TEST_RUN_SCRIPT_NAME = "test"


def job_test_name(index: int, title: str) -> str:
    """`<NN>-<slug of the title>`, a JobRun/TestJob test name ([A-Za-z0-9][-_.A-Za-z0-9]*, at most 100): the position
    keeps the order and makes it unique."""
    stem = _TEST_NAME.sub("-", title).strip("-._")[:80].strip("-._") or "test"
    return f"{index:02d}-{stem}"


@dataclass(frozen=True, slots=True)
class ScriptSpec:
    name: str
    script: str
    language: Language = "javascript"

    @property
    def file_name(self) -> str:
        ext = "ts" if self.language == "typescript" else "js"
        return f"{self.name}.spec.{ext}"


@dataclass(frozen=True, slots=True)
class Idempotency:
    """An Idempotency-Key as stored with the run: unique per scope (the API key), with its request's hash."""

    scope: str
    key: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class RunRequest:
    kind: RunKind
    scripts: tuple[ScriptSpec, ...]
    title: str = ""
    trigger: Trigger = "api"
    test_id: str | None = None
    job_id: str | None = None
    # Kubernetes mode: run the TestJob (or stored job) of this name instead of `scripts` (JobRun spec.jobRef).
    job_ref: str | None = None
    priority: int = 0
    timeout_seconds: int | None = None
    workers: int | None = None
    shards: int = 1
    retries: int = 0
    # Playwright's own retries of a failing test (spec.testRetries): a test that passes on one is flaky.
    test_retries: int = 0
    # Re-run failed: the run re-run, and the test ids (file > title path) the new run is limited to.
    rerun_of: str | None = None
    only_tests: tuple[str, ...] = ()
    # A re-run's spec is its original's as stored (runs.spec), so its scripts, their file names and so its test
    # ids are the same; the fields below (priority, timeout, ...) are then taken from it, not from this request.
    base_spec: dict[str, Any] | None = None
    env: dict[str, str] = field(default_factory=dict)
    idempotency: Idempotency | None = None

    def spec_dict(self) -> dict[str, Any]:
        """The one shape of a run's spec: the TestRun/JobRun resource's `spec` (crds/) in Kubernetes mode, and
        `runs.spec` in both modes (the local dispatcher launches from it, the operator mirrors it)."""
        if self.base_spec is not None:
            return self._rerun_spec(self.base_spec)
        spec: dict[str, Any] = {"priority": self.priority, "retries": self.retries}
        if self.timeout_seconds is not None:
            spec["timeoutSeconds"] = self.timeout_seconds
        if self.workers is not None:
            spec["workers"] = self.workers
        if self.test_retries:
            spec["testRetries"] = self.test_retries
        if self.rerun_of:
            spec["rerunOf"] = self.rerun_of
        if self.only_tests:
            spec["onlyTests"] = list(self.only_tests)
        if self.shards != 1:
            spec["shards"] = self.shards
        if self.env:
            spec["env"] = [{"name": k, "value": v} for k, v in sorted(self.env.items())]
        if self.kind == "test":
            if len(self.scripts) != 1:
                raise ValueError("a test run has exactly one script")
            script = self.scripts[0]
            spec.update(script=script.script, language=script.language)
            if self.test_id:
                spec["testId"] = self.test_id
        elif self.job_ref:
            spec["jobRef"] = self.job_ref  # the operator reads the tests (a TestJob's, or a stored job's)
        else:
            spec["tests"] = [
                {"name": job_test_name(i, s.name), "script": s.script, "language": s.language}
                for i, s in enumerate(self.scripts, start=1)
            ]
        return spec

    def _rerun_spec(self, base: dict[str, Any]) -> dict[str, Any]:
        return rerun_spec(base, self.rerun_of or "", self.only_tests)


def scripts_from_spec(spec: dict[str, Any]) -> list[ScriptSpec]:
    """The inline scripts of a run spec (`RunRequest.spec_dict`'s shape), in run order."""
    if "script" in spec:
        return [ScriptSpec(TEST_RUN_SCRIPT_NAME, spec["script"], spec.get("language", "javascript"))]
    return [ScriptSpec(t["name"], t["script"], t.get("language", "javascript")) for t in spec.get("tests") or []]


def env_from_spec(spec: dict[str, Any]) -> dict[str, str]:
    """A run spec's literal env entries (`[{name, value}]`) as a mapping."""
    return {str(e["name"]): str(e["value"]) for e in spec.get("env") or [] if "value" in e}


@dataclass(frozen=True, slots=True)
class LaunchedRun:
    """What a launcher answers about a run it submitted or cancelled: plain data read inside the transaction
    that wrote it, so nothing outside the launcher holds an ORM row whose session has closed."""

    id: str
    kind: RunKind
    phase: str
    trigger: str
    cancel_requested: bool = False


class RunLauncher(Protocol):
    """Submits and cancels runs. Raises `supertest.admission.QueueFull` when the queue is full."""

    async def submit(self, request: RunRequest) -> LaunchedRun: ...

    async def cancel(self, run_id: str) -> LaunchedRun: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class RunAlreadyFinished(Exception):
    def __init__(self, run_id: str, phase: str) -> None:
        super().__init__(f"run {run_id!r} already finished as {phase}; nothing to cancel")
        self.run_id = run_id
        self.phase = phase
