"""A run's verdict: what the runner concludes, written once where its supervisor reads it without any bus.

In a pod it is the container's termination message (kubelet caps that at 4096 bytes, so `encode` guarantees the
bound); in local mode it is a file in the run's directory. The operator and the local dispatcher classify a run
from this and the exit code alone: Redis is the live view, never the source of a result.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from supertest.events import Summary
from supertest.phases import Phase

# Kubelet's limit for one container's termination message.
MAX_VERDICT_BYTES = 4096
MAX_FAILURES = 10
_MESSAGE_CHARS = 1024
_TEST_CHARS = 200
_ERROR_CHARS = 300
_ELLIPSIS = "…"


class VerdictReason:
    """Why a run ended, where the phase alone does not say it (and the supervisor acts on it)."""

    TESTS = "Tests"
    # The tests finished, but their artifacts could not be stored: infrastructure, so it is retried.
    UPLOAD_FAILED = "UploadFailed"
    RUNNER_ERROR = "RunnerError"


class FailedTest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    test: str
    error: str = ""


class Verdict(BaseModel):
    # Decoding tolerates fields a newer runner adds; a rolling upgrade must not lose results.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    phase: Phase
    exit_code: int = Field(alias="exitCode")
    reason: str = VerdictReason.TESTS
    message: str = ""
    summary: Summary = Field(default_factory=Summary)
    report_key: str | None = Field(default=None, alias="reportKey")
    failures: list[FailedTest] = Field(default_factory=list)
    first_error: str = Field(default="", alias="firstError")

    @property
    def retryable(self) -> bool:
        return self.reason == VerdictReason.UPLOAD_FAILED

    def failure_dicts(self) -> list[dict[str, str]]:
        return [f.model_dump() for f in self.failures]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def _dump(verdict: Verdict) -> str:
    return json.dumps(
        verdict.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":"), ensure_ascii=False
    )


def encode(verdict: Verdict, limit: int = MAX_VERDICT_BYTES) -> str:
    """Compact JSON of at most `limit` UTF-8 bytes: long texts are cut, then failures dropped, then the message
    shortened, so the phase, exit code, summary and report key always survive."""
    v = verdict.model_copy(
        update={
            "message": _cut(verdict.message, _MESSAGE_CHARS),
            "first_error": _cut(verdict.first_error, _ERROR_CHARS),
            "failures": [
                FailedTest(test=_cut(f.test, _TEST_CHARS), error=_cut(f.error, _ERROR_CHARS))
                for f in verdict.failures[:MAX_FAILURES]
            ],
        }
    )
    text = _dump(v)
    while len(text.encode()) > limit and v.failures:
        v = v.model_copy(update={"failures": v.failures[:-1]})
        text = _dump(v)
    for field in ("first_error", "message"):
        while len(text.encode()) > limit and getattr(v, field):
            value: str = getattr(v, field)
            v = v.model_copy(update={field: _cut(value, max(1, len(value) // 2)) if len(value) > 1 else ""})
            text = _dump(v)
    if len(text.encode()) > limit:
        raise ValueError(f"a verdict without texts is still over {limit} bytes")
    return text


def decode(text: str | None) -> Verdict | None:
    """None for anything that is not a verdict: an empty message, or a log tail (FallbackToLogsOnError)."""
    if not text or not text.lstrip().startswith("{"):
        return None
    try:
        return Verdict.model_validate_json(text)
    except (ValidationError, ValueError):
        return None


def write(path: Path, verdict: Verdict) -> None:
    """Written whole in one call: /dev/termination-log is a bind-mounted file, truncated and rewritten."""
    path.write_text(encode(verdict), encoding="utf-8")


def read(path: Path) -> Verdict | None:
    try:
        return decode(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
