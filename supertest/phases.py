"""Run phases and the state machine every backend moves runs through."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    QUEUED = "Queued"
    STARTING = "Starting"
    RUNNING = "Running"
    PASSED = "Passed"
    FAILED = "Failed"
    ERROR = "Error"
    CANCELLED = "Cancelled"
    TIMED_OUT = "TimedOut"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_PHASES

    @property
    def is_active(self) -> bool:
        """Admitted and holding a running slot."""
        return self in ACTIVE_PHASES


TERMINAL_PHASES = frozenset({Phase.PASSED, Phase.FAILED, Phase.ERROR, Phase.CANCELLED, Phase.TIMED_OUT})
ACTIVE_PHASES = frozenset({Phase.STARTING, Phase.RUNNING})

# Error may go back to Queued: an infrastructure failure retried under spec.retries.
_ALLOWED: dict[Phase, frozenset[Phase]] = {
    Phase.QUEUED: frozenset({Phase.STARTING, Phase.CANCELLED, Phase.ERROR}),
    Phase.STARTING: frozenset({Phase.RUNNING, Phase.QUEUED, *TERMINAL_PHASES}),
    Phase.RUNNING: frozenset({Phase.QUEUED, *TERMINAL_PHASES}),
    Phase.PASSED: frozenset(),
    Phase.FAILED: frozenset(),
    Phase.ERROR: frozenset({Phase.QUEUED}),
    Phase.CANCELLED: frozenset(),
    Phase.TIMED_OUT: frozenset(),
}


class IllegalTransition(ValueError):
    def __init__(self, current: Phase, target: Phase) -> None:
        super().__init__(f"illegal phase transition {current.value} -> {target.value}")
        self.current = current
        self.target = target


def can_transition(current: Phase, target: Phase) -> bool:
    return target in _ALLOWED[current]


def transition(current: Phase, target: Phase) -> Phase:
    """Return `target` if the move is legal; a same-phase move is a no-op, not an error."""
    if current == target:
        return current
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    return target


class ExitCode:
    """Runner exit codes; `supertest run` mirrors them."""

    PASSED = 0
    FAILED = 1
    ERROR = 2
    TIMED_OUT = 3
    CANCELLED = 4
    # The tests ran, but their artifacts could not be stored: an infrastructure Error, retried per spec.retries.
    UPLOAD_FAILED = 5


def phase_for_exit_code(code: int) -> Phase:
    return {
        ExitCode.PASSED: Phase.PASSED,
        ExitCode.FAILED: Phase.FAILED,
        ExitCode.TIMED_OUT: Phase.TIMED_OUT,
        ExitCode.CANCELLED: Phase.CANCELLED,
    }.get(code, Phase.ERROR)


def exit_code_for_phase(phase: Phase) -> int:
    return {
        Phase.PASSED: ExitCode.PASSED,
        Phase.FAILED: ExitCode.FAILED,
        Phase.TIMED_OUT: ExitCode.TIMED_OUT,
        Phase.CANCELLED: ExitCode.CANCELLED,
    }.get(phase, ExitCode.ERROR)
