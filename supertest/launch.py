"""How the API hands runs to a backend: the local dispatcher or Kubernetes resources."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Language = Literal["javascript", "typescript"]
RunKind = Literal["test", "job"]
Trigger = Literal["manual", "api", "schedule", "kubectl", "cli"]


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
    retries: int = 0
    env: dict[str, str] = field(default_factory=dict)
    idempotency: Idempotency | None = None

    def spec_dict(self) -> dict[str, object]:
        """What is stored on the run row so a restarted dispatcher can still launch it."""
        return {
            "scripts": [{"name": s.name, "script": s.script, "language": s.language} for s in self.scripts],
            "timeoutSeconds": self.timeout_seconds,
            "workers": self.workers,
            "retries": self.retries,
            "env": dict(self.env),
            **({"jobRef": self.job_ref} if self.job_ref else {}),
        }


def scripts_from_spec(spec: dict[str, object]) -> list[ScriptSpec]:
    raw = spec.get("scripts", [])
    assert isinstance(raw, list)
    return [ScriptSpec(name=s["name"], script=s["script"], language=s.get("language", "javascript")) for s in raw]


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
