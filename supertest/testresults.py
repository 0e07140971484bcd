"""Per-test results: Playwright's results.json (JSON reporter) -> one row per test, and a test's health over a
window of its results. Pure functions; the database and the artifact store are the callers' business.

A test's id is its file and title path joined by " > " (`checkout.spec.ts > cart > adds an item`): stable across
runs as long as nobody renames it, and the same in both modes and in sharded runs.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

TEST_ID_SEPARATOR = " > "
ERROR_HEAD_CHARS = 500
TestStatus = Literal["passed", "failed", "flaky", "skipped", "timedOut", "quarantined"]
# The statuses that count as a failure of the test (a quarantined failure is still one, for its health).
FAILING: frozenset[str] = frozenset({"failed", "timedOut", "quarantined"})
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True, slots=True)
class TestResultRow:
    __test__ = False  # not a pytest class

    test_id: str
    file: str
    title: str
    project: str
    status: TestStatus
    duration_ms: int
    retries: int
    error_head: str | None


def test_id_of(file: str, titles: Sequence[str]) -> str:
    return TEST_ID_SEPARATOR.join((file, *titles))


def _error_head(results: list[dict[str, Any]]) -> str | None:
    for result in results:
        for err in result.get("errors") or ([result["error"]] if isinstance(result.get("error"), dict) else []):
            if isinstance(err, dict):
                text = _ANSI.sub("", str(err.get("message") or err.get("stack") or "")).strip()
                if text:
                    return text[:ERROR_HEAD_CHARS]
    return None


def _status(test: dict[str, Any], results: list[dict[str, Any]], quarantined: bool) -> TestStatus:
    outcome = test.get("status")
    if outcome == "flaky":
        return "flaky"
    if outcome == "skipped":
        return "skipped"
    if outcome == "expected":
        return "passed"
    # unexpected: failed on every attempt (or passed where a failure was expected)
    if quarantined:
        return "quarantined"
    last = results[-1].get("status") if results else None
    return "timedOut" if last == "timedOut" else "failed"


def _specs(suite: dict[str, Any], file: str, path: tuple[str, ...]) -> Iterator[tuple[str, tuple[str, ...], Any]]:
    for spec in suite.get("specs") or []:
        if isinstance(spec, dict):
            yield str(spec.get("file") or file), (*path, str(spec.get("title") or "")), spec
    for child in suite.get("suites") or []:
        if isinstance(child, dict):
            title = str(child.get("title") or "")
            yield from _specs(child, str(child.get("file") or file), (*path, title) if title else path)


def parse_test_results(document: dict[str, Any], quarantined: Collection[str] = ()) -> list[TestResultRow]:
    """Every test of the report, in report order. `quarantined`: test ids whose failure is reported as such."""
    rows: list[TestResultRow] = []
    suites = document.get("suites")
    for top in suites if isinstance(suites, list) else []:
        if not isinstance(top, dict):
            continue
        # A top-level suite is a file: its title is the file name, not part of the test's title path.
        file = str(top.get("file") or top.get("title") or "")
        for spec_file, titles, spec in _specs(top, file, ()):
            for test in spec.get("tests") or []:
                if not isinstance(test, dict):
                    continue
                results = [r for r in test.get("results") or [] if isinstance(r, dict)]
                test_id = test_id_of(spec_file, titles)
                rows.append(
                    TestResultRow(
                        test_id=test_id,
                        file=spec_file,
                        title=TEST_ID_SEPARATOR.join(titles),
                        project=str(test.get("projectName") or ""),
                        status=_status(test, results, test_id in quarantined),
                        duration_ms=round(sum(float(r.get("duration") or 0) for r in results)),
                        retries=max((int(r.get("retry") or 0) for r in results), default=0),
                        error_head=_error_head(results),
                    )
                )
    return rows


# -- health ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResultPoint:
    """One past result of a test, as health needs it."""

    run_id: str
    status: str
    duration_ms: int
    at: datetime
    error_head: str | None = None


@dataclass(frozen=True, slots=True)
class TestHealth:
    __test__ = False  # not a pytest class

    test_id: str
    runs: int  # results in the window that executed (skipped ones are left out)
    passed: int
    failed: int
    flaky: int
    pass_rate: float | None
    flaky_rate: float | None
    median_ms: float | None
    p95_ms: float | None
    durations_ms: list[int]  # oldest first, for a sparkline
    last_failure_at: datetime | None
    last_failure_run: str | None
    last_failure_message: str | None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def health(test_id: str, points: Sequence[ResultPoint]) -> TestHealth:
    """`points`: the test's results in the window, any order. A flaky result passed in the end, so it counts
    towards the pass rate and, separately, the flaky rate."""
    newest_first = sorted(points, key=lambda p: p.at, reverse=True)
    executed = [p for p in newest_first if p.status != "skipped"]
    passed = sum(p.status == "passed" for p in executed)
    flaky = sum(p.status == "flaky" for p in executed)
    failed = sum(p.status in FAILING for p in executed)
    n = len(executed)
    durations = [float(p.duration_ms) for p in executed]
    last_failure = next((p for p in newest_first if p.status in FAILING), None)
    return TestHealth(
        test_id=test_id,
        runs=n,
        passed=passed,
        failed=failed,
        flaky=flaky,
        pass_rate=(passed + flaky) / n if n else None,
        flaky_rate=flaky / n if n else None,
        median_ms=statistics.median(durations) if durations else None,
        p95_ms=percentile(durations, 0.95),
        durations_ms=[p.duration_ms for p in reversed(executed)],
        last_failure_at=last_failure.at if last_failure else None,
        last_failure_run=last_failure.run_id if last_failure else None,
        last_failure_message=last_failure.error_head if last_failure else None,
    )
