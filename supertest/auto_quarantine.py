"""The automatic quarantine rule (off by default): a test whose flaky rate over the health window is above a
threshold is quarantined, with the rate as its reason. Evaluated for a run's tests when its results are recorded.
The policy is pure; `supertest.results_recorder` applies it."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from supertest.db.test_results import WINDOW_DAYS, WINDOW_RESULTS
from supertest.settings import CoreSettings
from supertest.testresults import TestHealth

AUTO_QUARANTINE_BY = "auto-quarantine"


@dataclass(frozen=True, slots=True)
class AutoQuarantineRule:
    flaky_rate: float = 0.0  # a fraction; 0 turns the rule off
    # Fewer executed results than this say too little: one flaky run of two is 50%, and no reason to mute a test.
    min_runs: int = 5
    window_results: int = WINDOW_RESULTS
    window_days: int = WINDOW_DAYS

    @property
    def enabled(self) -> bool:
        return self.flaky_rate > 0

    @classmethod
    def from_settings(cls, settings: CoreSettings) -> AutoQuarantineRule:
        return cls(
            flaky_rate=settings.auto_quarantine_flaky_rate,
            min_runs=settings.auto_quarantine_min_runs,
            window_results=settings.auto_quarantine_window_results,
            window_days=settings.auto_quarantine_window_days,
        )


@dataclass(frozen=True, slots=True)
class AutoQuarantine:
    test_id: str
    reason: str


def to_quarantine(
    rule: AutoQuarantineRule, healths: Iterable[TestHealth], quarantined: Collection[str]
) -> list[AutoQuarantine]:
    """The tests the rule quarantines now: above the threshold (strictly), with enough results, not already in."""
    if not rule.enabled:
        return []
    out: list[AutoQuarantine] = []
    for h in healths:
        if h.test_id in quarantined or h.flaky_rate is None or h.runs < rule.min_runs:
            continue
        if h.flaky_rate > rule.flaky_rate:
            reason = (
                f"auto: flaky rate {h.flaky_rate:.0%} over the last {h.runs} runs (threshold {rule.flaky_rate:.0%})"
            )
            out.append(AutoQuarantine(h.test_id, reason))
    return out
