"""Which alert a finished run raises under a rule. Pure functions of the run's phase and its streak.

A failure streak is the run of consecutive Failed/TimedOut/Error outcomes of one job (or one test); Cancelled
runs neither extend nor break it, Passed ends it. With threshold N and at most K alerts per streak, the n-th
failure of a streak alerts when N <= n < N + K. Recovery (the first pass after failures) is sent only when the
streak it ends reached N, i.e. when someone was told about the failures in the first place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from supertest.phases import Phase


class Event(StrEnum):
    FAILURE = "failure"
    RECOVERY = "recovery"
    EVERY_RUN = "every_run"
    TIMEOUT_ERROR = "timeout_error"


FAILURE_PHASES = frozenset({Phase.FAILED, Phase.TIMED_OUT, Phase.ERROR})
DEFAULT_EVENTS = (Event.FAILURE, Event.RECOVERY)


@dataclass(frozen=True, slots=True)
class Rule:
    events: frozenset[Event]
    failure_threshold: int = 1
    max_alerts_per_streak: int | None = None

    @classmethod
    def of(cls, events: Iterable[str], threshold: int = 1, max_per_streak: int | None = None) -> Rule:
        return cls(frozenset(Event(e) for e in events), max(1, threshold), max_per_streak)


def streak_before(previous_phases: Sequence[Phase]) -> int:
    """Consecutive failures right before this run; `previous_phases` newest first."""
    count = 0
    for phase in previous_phases:
        if phase is Phase.CANCELLED or not phase.is_terminal:
            continue
        if phase not in FAILURE_PHASES:
            break
        count += 1
    return count


def decide(phase: Phase, previous_streak: int, rule: Rule) -> Event | None:
    """The event this run raises under `rule`, or None."""
    if phase in FAILURE_PHASES:
        n = previous_streak + 1
        cap = rule.max_alerts_per_streak
        within_cap = cap is None or n < rule.failure_threshold + cap
        if Event.FAILURE in rule.events and n >= rule.failure_threshold and within_cap:
            return Event.FAILURE
        if Event.TIMEOUT_ERROR in rule.events and phase in (Phase.TIMED_OUT, Phase.ERROR):
            return Event.TIMEOUT_ERROR
    elif phase is Phase.PASSED and Event.RECOVERY in rule.events and previous_streak >= rule.failure_threshold:
        return Event.RECOVERY
    if Event.EVERY_RUN in rule.events and phase.is_terminal:
        return Event.EVERY_RUN
    return None
