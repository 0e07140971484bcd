import json
from pathlib import Path

import pytest
from supertest_runner.results import load_results, parse_results

from supertest.events import Summary

FIXTURES = Path(__file__).parent / "fixtures"


def _load(name: str):
    return parse_results(json.loads((FIXTURES / name).read_text()))


def test_passing_run() -> None:
    parsed = _load("passed.json")
    assert parsed.summary == Summary(total=1, passed=1, failed=0, flaky=0, skipped=0, duration_ms=3314)
    assert parsed.errors == []
    assert parsed.ran


def test_failed_flaky_and_skipped_are_counted_apart() -> None:
    # One file with a pass, a failure (retried), a test that passes on retry, and test.skip.
    parsed = _load("mixed.json")
    assert parsed.summary == Summary(total=4, passed=1, failed=1, flaky=1, skipped=1, duration_ms=15844)
    assert parsed.errors == []
    assert any("toHaveText" in message for message in parsed.test_errors)


def test_compile_error_is_a_top_level_error_with_nothing_run() -> None:
    parsed = _load("syntax.json")
    assert not parsed.ran
    assert parsed.summary.total == 0
    assert parsed.errors[0].startswith("SyntaxError: ")
    assert "Unexpected token" in parsed.errors[0]


def test_interrupted_test_counts_as_skipped() -> None:
    parsed = _load("interrupted.json")
    assert parsed.summary.skipped == 1
    assert not parsed.ran


def test_other_browser_launch_failure_is_visible_in_test_errors() -> None:
    parsed = _load("firefox.json")
    assert any("browserType.launch" in message for message in parsed.test_errors)


@pytest.mark.parametrize("document", [{}, {"stats": None, "suites": None, "errors": "x"}, {"stats": {"expected": "1"}}])
def test_malformed_documents_do_not_raise(document: dict) -> None:
    parsed = parse_results(document)
    assert parsed.summary.total == 0


def test_load_results_missing_or_invalid(tmp_path: Path) -> None:
    assert load_results(tmp_path / "absent.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert load_results(tmp_path / "bad.json") is None
    (tmp_path / "list.json").write_text("[]")
    assert load_results(tmp_path / "list.json") is None
    assert load_results(FIXTURES / "passed.json") is not None


def test_a_quarantined_failure_is_counted_apart_and_not_listed_as_failed() -> None:
    document = json.loads((FIXTURES / "mixed.json").read_text())
    parsed = parse_results(document, frozenset({"a.spec.ts > fails", "a.spec.ts > not in this run"}))
    assert parsed.summary == Summary(total=4, passed=1, failed=0, flaky=1, skipped=1, quarantined=1, duration_ms=15844)
    assert parsed.failures == []
    assert [q["test"] for q in parsed.quarantined] == ["a.spec.ts \u203a fails"]
    assert parsed.ran
    # Another test's quarantine changes nothing.
    other = parse_results(document, frozenset({"a.spec.ts > passes"}))
    assert (other.summary.failed, other.summary.quarantined, len(other.failures)) == (1, 0, 1)


@pytest.mark.parametrize("raw", ["", "not json", '{"a": 1}', "3"])
def test_a_bad_quarantine_list_is_no_quarantine(raw: str) -> None:
    from supertest_runner.results import quarantined_ids

    assert quarantined_ids(raw) == frozenset()


def test_the_quarantine_list_is_read_from_json() -> None:
    from supertest_runner.results import quarantined_ids

    assert quarantined_ids('["a.spec.ts > fails", "b > c"]') == frozenset({"a.spec.ts > fails", "b > c"})
