"""How a run ends: phase, exit code and the human message, from what happened. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from supertest.events import Summary
from supertest.phases import ExitCode, Phase, exit_code_for_phase
from supertest.verdict import VerdictReason
from supertest_runner.browsers import requested_in_error
from supertest_runner.results import ParsedResults


class Stop(StrEnum):
    """Why the runner stopped Playwright before it finished on its own."""

    TIMEOUT = "timeout"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class Outcome:
    phase: Phase
    message: str
    # Not part of equality: two outcomes with the same phase and words are the same outcome to a reader.
    reason: str = field(default=VerdictReason.TESTS, compare=False)

    @property
    def exit_code(self) -> int:
        if self.reason == VerdictReason.UPLOAD_FAILED:
            return ExitCode.UPLOAD_FAILED
        return exit_code_for_phase(self.phase)


def describe(summary: Summary) -> str:
    """'2 passed, 1 failed' in Playwright's own words and order."""
    parts = [
        f"{n} {label}"
        for n, label in (
            (summary.failed, "failed"),
            (summary.quarantined, "quarantined"),
            (summary.flaky, "flaky"),
            (summary.skipped, "skipped"),
            (summary.passed, "passed"),
        )
        if n
    ]
    return ", ".join(parts) if parts else "no tests ran"


def first_line(text: str, limit: int = 300) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def decide(
    *,
    returncode: int | None,
    stop: Stop | None,
    timeout_seconds: int,
    results: ParsedResults | None,
    last_output: str = "",
) -> Outcome:
    """The outcome before upload; `with_upload_error` may still turn it into an Error."""
    counts = f" ({describe(results.summary)})" if results and results.summary.total else ""
    if stop is Stop.CANCEL:
        return Outcome(Phase.CANCELLED, f"cancelled{counts}")
    if stop is Stop.TIMEOUT:
        return Outcome(Phase.TIMED_OUT, f"timed out after {timeout_seconds}s{counts}")
    if results is None:
        tail = f": {first_line(last_output)}" if last_output.strip() else ""
        return Outcome(Phase.ERROR, f"Playwright exited with code {returncode} without writing results{tail}")
    if results.errors and not results.ran:
        # A script that does not compile, or one without tests: nothing executed.
        return Outcome(Phase.ERROR, first_line(results.errors[0]))
    for message in results.test_errors:
        browser = requested_in_error(message)
        if browser:
            return Outcome(Phase.ERROR, f"the script asks for {browser}, but only Chromium is available")
    if results.summary.failed or results.errors:
        return Outcome(Phase.FAILED, describe(results.summary))
    # Playwright exits 1 for the quarantined failures too: they are known, and do not fail the run.
    if returncode == 0 or (returncode == 1 and results.summary.quarantined):
        return Outcome(Phase.PASSED, describe(results.summary))
    return Outcome(Phase.ERROR, f"Playwright exited with code {returncode}: {describe(results.summary)}")


def with_upload_error(outcome: Outcome, error: str | None) -> Outcome:
    """A finished run whose artifacts are lost is an Error; TimedOut and Cancelled keep their phase."""
    if error is None:
        return outcome
    if outcome.phase in (Phase.PASSED, Phase.FAILED):
        return Outcome(Phase.ERROR, f"upload failed: {error} (tests: {outcome.message})", VerdictReason.UPLOAD_FAILED)
    return Outcome(outcome.phase, f"{outcome.message}; upload failed: {error}")
