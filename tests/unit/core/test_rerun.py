"""Re-run failed: which tests are re-run, the --test-list lines the runner gives Playwright, the re-run's spec,
and the automatic quarantine policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supertest.auto_quarantine import AutoQuarantineRule, to_quarantine
from supertest.kube.models import TestRunSpec
from supertest.launch import RunRequest, ScriptSpec
from supertest.rerun import (
    MAX_ONLY_TESTS,
    NothingToRerun,
    TooManyToRerun,
    build_test_list,
    check_rerunnable,
    failed_test_ids,
    rerun_spec,
)
from supertest.testresults import TestHealth


def test_only_failed_and_timed_out_tests_are_rerun_once_each_in_order():
    rows = [
        ("a.spec.js > x", "passed"),
        ("a.spec.js > y", "failed"),
        ("b.spec.js > z", "flaky"),
        ("b.spec.js > q", "quarantined"),
        ("b.spec.js > t", "timedOut"),
        ("c.spec.js > s", "skipped"),
        ("a.spec.js > y", "failed"),  # the same test in a second project
    ]
    assert failed_test_ids(rows) == ["a.spec.js > y", "b.spec.js > t"]


def test_a_run_must_be_finished_and_have_failed_tests():
    with pytest.raises(NothingToRerun, match="only a finished run"):
        check_rerunnable("r1", "Running", ["a.spec.js > y"])
    with pytest.raises(NothingToRerun, match="no failed tests"):
        check_rerunnable("r1", "Passed", [])
    with pytest.raises(TooManyToRerun, match=f"at most {MAX_ONLY_TESTS}"):
        check_rerunnable("r1", "Failed", [f"a.spec.js > t{i}" for i in range(MAX_ONLY_TESTS + 1)])
    check_rerunnable("r1", "Failed", ["a.spec.js > y"])  # no exception


def test_test_list_lines_are_file_and_title_path_joined_by_playwrights_separator():
    text = build_test_list(["01-cart.spec.js > cart > adds an item", "test.spec.ts > loads", "test.spec.ts > loads"])
    assert text == "01-cart.spec.js \u203a cart \u203a adds an item\ntest.spec.ts \u203a loads\n"


def test_a_title_that_cannot_be_written_exactly_selects_its_whole_file():
    text = build_test_list(["x.spec.js > has \u203a inside", "y.spec.js >  padded ", "z.spec.js > ok"])
    assert text.splitlines() == ["x.spec.js", "y.spec.js", "z.spec.js \u203a ok"]


def test_rerun_spec_keeps_the_original_and_links_it():
    original = {
        "script": "s",
        "language": "javascript",
        "priority": 3,
        "cancel": True,
        "onlyTests": ["old"],
        "shards": 4,
    }
    spec = rerun_spec(original, "tr-1", ["test.spec.js > a"])
    assert spec == {
        "script": "s",
        "language": "javascript",
        "priority": 3,
        "rerunOf": "tr-1",
        "onlyTests": ["test.spec.js > a"],
    }
    parsed = TestRunSpec.model_validate(spec)  # the CRD's typed view accepts it
    assert parsed.rerun_of == "tr-1" and parsed.only_tests == ["test.spec.js > a"]


def test_a_rerun_request_uses_the_stored_spec_so_job_file_names_stay_the_same():
    stored = {"tests": [{"name": "01-login", "script": "s", "language": "javascript"}], "priority": 0}
    request = RunRequest(
        kind="job",
        scripts=(ScriptSpec("login", "s"),),
        rerun_of="run-1",
        only_tests=("01-login.spec.js > t",),
        base_spec=stored,
    )
    spec = request.spec_dict()
    assert spec["tests"][0]["name"] == "01-login"  # a fresh request would number it again: 01-01-login
    assert spec["rerunOf"] == "run-1" and spec["onlyTests"] == ["01-login.spec.js > t"]


def test_only_tests_is_bounded_in_the_typed_spec():
    with pytest.raises(ValueError, match="at most 100 items"):
        TestRunSpec.model_validate({"script": "s", "onlyTests": ["t"] * (MAX_ONLY_TESTS + 1)})
    with pytest.raises(ValueError, match="at least 1 character"):
        TestRunSpec.model_validate({"script": "s", "onlyTests": [""]})


def _health(test_id: str, runs: int, flaky: int) -> TestHealth:
    return TestHealth(
        test_id=test_id,
        runs=runs,
        passed=runs - flaky,
        failed=0,
        flaky=flaky,
        pass_rate=1.0 if runs else None,
        flaky_rate=flaky / runs if runs else None,
        median_ms=None,
        p95_ms=None,
        durations_ms=[],
        last_failure_at=datetime.now(UTC) if flaky else None,
        last_failure_run=None,
        last_failure_message=None,
    )


def test_auto_quarantine_is_off_by_default():
    assert to_quarantine(AutoQuarantineRule(), [_health("a > t", 10, 10)], set()) == []


def test_auto_quarantine_takes_tests_strictly_above_the_threshold_with_enough_runs():
    rule = AutoQuarantineRule(flaky_rate=0.2, min_runs=5)
    healths = [
        _health("a > above", 10, 3),  # 30%
        _health("a > at", 10, 2),  # 20%: not above
        _health("a > few runs", 4, 4),  # 100% of too few
        _health("a > already", 10, 9),
        _health("a > none", 0, 0),
    ]
    out = to_quarantine(rule, healths, {"a > already"})
    assert [q.test_id for q in out] == ["a > above"]
    assert out[0].reason.startswith("auto: flaky rate 30%")
