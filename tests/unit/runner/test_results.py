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
