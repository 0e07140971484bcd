"""results.json -> per-test rows, and a test's health over its window. The fixture is a real Playwright 1.64
report (JSON reporter, retries 1) trimmed of paths and attachments: flaky, failed, timed out, skipped and a
describe block."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supertest.testresults import (
    ERROR_HEAD_CHARS,
    ResultPoint,
    TestResultRow,
    health,
    parse_test_results,
    percentile,
)

MIXED = json.loads((Path(__file__).parent / "data" / "results_mixed.json").read_text(encoding="utf-8"))


def by_id(quarantined: frozenset[str] = frozenset()) -> dict[str, TestResultRow]:
    return {r.test_id: r for r in parse_test_results(MIXED, quarantined)}


def test_every_test_gets_a_row_with_its_status():
    rows = by_id()
    assert {k: r.status for k, r in rows.items()} == {
        "mixed.spec.js > always fails": "failed",
        "mixed.spec.js > times out": "timedOut",
        "mixed.spec.js > is skipped": "skipped",
        "mixed.spec.js > cart > flaky on the first attempt": "flaky",
        "mixed.spec.js > cart > passes": "passed",
    }


def test_row_fields_come_from_all_attempts():
    rows = parse_test_results(MIXED)
    flaky = next(r for r in rows if r.status == "flaky")
    assert flaky.file == "mixed.spec.js"
    assert flaky.title == "cart > flaky on the first attempt"
    assert flaky.project == "chromium"
    assert flaky.retries == 1
    # Both attempts' time: what the test costs a shard (1905 + 857 ms in the report).
    assert flaky.duration_ms == 2762
    # The failed first attempt's error, without terminal colours.
    assert flaky.error_head is not None and flaky.error_head.startswith("Error: expect(locator).toHaveText")
    assert "\x1b[" not in flaky.error_head
    passed = next(r for r in rows if r.status == "passed")
    assert (passed.retries, passed.error_head, passed.duration_ms) == (0, None, 540)


def test_error_head_is_cut_to_its_limit():
    doc = json.loads(json.dumps(MIXED))
    spec = doc["suites"][0]["specs"][0]
    spec["tests"][0]["results"][0]["errors"] = [{"message": "x" * 5000}]
    row = next(r for r in parse_test_results(doc) if r.test_id.endswith("always fails"))
    assert row.error_head == "x" * ERROR_HEAD_CHARS


def test_a_quarantined_tests_failure_is_reported_as_quarantined_and_its_pass_is_not():
    rows = by_id(frozenset({"mixed.spec.js > always fails", "mixed.spec.js > cart > passes"}))
    assert rows["mixed.spec.js > always fails"].status == "quarantined"
    assert rows["mixed.spec.js > cart > passes"].status == "passed"


@pytest.mark.parametrize("document", [{}, {"suites": None}, {"suites": [None, {"specs": [None]}]}, {"suites": "x"}])
def test_odd_documents_give_no_rows(document: dict[str, object]):
    assert parse_test_results(document) == []


def test_ids_do_not_depend_on_shard_or_run():
    assert [r.test_id for r in parse_test_results(MIXED)] == [r.test_id for r in parse_test_results(MIXED)]


T0 = datetime(2026, 12, 1, tzinfo=UTC)


def point(i: int, status: str, ms: int, error: str | None = None) -> ResultPoint:
    return ResultPoint(run_id=f"run-{i}", status=status, duration_ms=ms, at=T0 + timedelta(minutes=i), error_head=error)


def test_health_rates_durations_and_last_failure():
    points = [
        point(0, "failed", 100, "old failure"),
        point(1, "passed", 200),
        point(2, "flaky", 300),
        point(3, "skipped", 0),
        point(4, "timedOut", 400, "newest failure"),
        point(5, "passed", 500),
    ]
    h = health("t", list(reversed(points)))  # any order in
    assert (h.runs, h.passed, h.failed, h.flaky) == (5, 2, 2, 1)
    assert h.pass_rate == pytest.approx(3 / 5)  # a flaky test passed in the end
    assert h.flaky_rate == pytest.approx(1 / 5)
    assert h.median_ms == 300
    assert h.p95_ms == pytest.approx(480)  # 400 + 0.8 * (500 - 400)
    assert h.durations_ms == [100, 200, 300, 400, 500]  # oldest first, skipped left out
    assert (h.last_failure_run, h.last_failure_message) == ("run-4", "newest failure")
    assert h.last_failure_at == T0 + timedelta(minutes=4)


def test_health_of_only_skipped_results_has_no_rates():
    h = health("t", [point(0, "skipped", 0)])
    assert (h.runs, h.pass_rate, h.flaky_rate, h.median_ms, h.p95_ms, h.last_failure_run) == (
        0,
        None,
        None,
        None,
        None,
        None,
    )


def test_percentile_matches_linear_interpolation():
    assert percentile([], 0.95) is None
    assert percentile([7], 0.95) == 7
    assert percentile(list(range(1, 101)), 0.95) == pytest.approx(95.05)
    assert percentile([1, 2, 3, 4], 0.5) == pytest.approx(2.5)
