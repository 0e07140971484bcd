import json
from pathlib import Path

import pytest
from supertest_runner.browsers import parse_browsers, requested_in_error, unsupported
from supertest_runner.outcome import Outcome, Stop, decide, describe, with_upload_error
from supertest_runner.results import ParsedResults, parse_results

from supertest.events import Summary
from supertest.phases import ExitCode, Phase
from supertest.verdict import VerdictReason

FIXTURES = Path(__file__).parent / "fixtures"


def _fixture(name: str) -> ParsedResults:
    return parse_results(json.loads((FIXTURES / name).read_text()))


def _decide(results: ParsedResults | None, returncode: int | None = 0, stop: Stop | None = None) -> Outcome:
    return decide(returncode=returncode, stop=stop, timeout_seconds=7, results=results, last_output="Error: boom")


@pytest.mark.parametrize(
    ("phase", "code"),
    [
        (Phase.PASSED, ExitCode.PASSED),
        (Phase.FAILED, ExitCode.FAILED),
        (Phase.ERROR, ExitCode.ERROR),
        (Phase.TIMED_OUT, ExitCode.TIMED_OUT),
        (Phase.CANCELLED, ExitCode.CANCELLED),
    ],
)
def test_exit_code_per_phase(phase: Phase, code: int) -> None:
    assert Outcome(phase, "").exit_code == code


def test_passed() -> None:
    assert _decide(_fixture("passed.json")) == Outcome(Phase.PASSED, "1 passed")


def test_failed_names_the_counts() -> None:
    outcome = _decide(_fixture("mixed.json"), returncode=1)
    assert outcome == Outcome(Phase.FAILED, "1 failed, 1 flaky, 1 skipped, 1 passed")


def test_compile_error_is_an_error_naming_the_syntax_error() -> None:
    outcome = _decide(_fixture("syntax.json"), returncode=1)
    assert outcome.phase is Phase.ERROR
    assert outcome.message.startswith("SyntaxError:")
    assert "\n" not in outcome.message


def test_no_results_is_an_error_with_the_last_error_line() -> None:
    outcome = _decide(None, returncode=1)
    assert outcome == Outcome(Phase.ERROR, "Playwright exited with code 1 without writing results: Error: boom")


def test_other_browser_is_an_error() -> None:
    outcome = _decide(_fixture("firefox.json"), returncode=1)
    assert outcome == Outcome(Phase.ERROR, "the script asks for firefox, but only Chromium is available")


def test_timeout_and_cancel_win_over_results() -> None:
    interrupted = _fixture("interrupted.json")
    assert _decide(interrupted, 130, Stop.TIMEOUT) == Outcome(Phase.TIMED_OUT, "timed out after 7s (1 skipped)")
    assert _decide(None, None, Stop.CANCEL) == Outcome(Phase.CANCELLED, "cancelled")


def test_nonzero_exit_without_failures_is_an_error() -> None:
    assert _decide(_fixture("passed.json"), returncode=3).phase is Phase.ERROR


def test_upload_failure_turns_a_finished_run_into_an_error_only() -> None:
    passed = Outcome(Phase.PASSED, "1 passed")
    assert with_upload_error(passed, None) is passed
    assert with_upload_error(passed, "EndpointConnectionError") == Outcome(
        Phase.ERROR, "upload failed: EndpointConnectionError (tests: 1 passed)"
    )
    assert with_upload_error(Outcome(Phase.FAILED, "1 failed"), "x").phase is Phase.ERROR
    timed_out = with_upload_error(Outcome(Phase.TIMED_OUT, "timed out after 7s"), "x")
    assert timed_out == Outcome(Phase.TIMED_OUT, "timed out after 7s; upload failed: x")
    assert with_upload_error(Outcome(Phase.CANCELLED, "cancelled"), "x").phase is Phase.CANCELLED


def test_describe() -> None:
    assert describe(Summary()) == "no tests ran"
    assert describe(Summary(total=3, passed=2, failed=1)) == "1 failed, 2 passed"


def test_browsers() -> None:
    assert parse_browsers(" Chromium, firefox ,,") == ["chromium", "firefox"]
    assert unsupported(["chromium", "webkit"]) == ["webkit"]
    assert requested_in_error("browserType.launch: ... -juggler-pipe ...") == "firefox"
    assert requested_in_error("browserType.launch: Executable doesn't exist at /x/webkit-2000/pw_run.sh") == "webkit"
    assert requested_in_error("page.goto: net::ERR_NAME_NOT_RESOLVED (firefox.com)") is None


def test_an_upload_outage_after_the_tests_has_its_own_exit_code() -> None:
    lost = with_upload_error(Outcome(Phase.PASSED, "1 passed"), "EndpointConnectionError")
    assert lost.exit_code == ExitCode.UPLOAD_FAILED and lost.reason == VerdictReason.UPLOAD_FAILED
    # A run that already ended otherwise keeps its exit code: the tests' verdict is what matters there.
    assert with_upload_error(Outcome(Phase.TIMED_OUT, "timed out"), "x").exit_code == ExitCode.TIMED_OUT


def test_only_quarantined_failures_pass_the_run() -> None:
    document = json.loads((Path(__file__).parent / "fixtures" / "mixed.json").read_text())
    results = parse_results(document, frozenset({"a.spec.ts > fails"}))
    outcome = _decide(results, returncode=1)  # Playwright still exits 1 for the quarantined failure
    assert outcome == Outcome(Phase.PASSED, "1 quarantined, 1 flaky, 1 skipped, 1 passed")
    assert outcome.exit_code == ExitCode.PASSED


def test_a_crash_with_quarantined_failures_is_still_an_error() -> None:
    document = json.loads((Path(__file__).parent / "fixtures" / "mixed.json").read_text())
    results = parse_results(document, frozenset({"a.spec.ts > fails"}))
    assert _decide(results, returncode=134).phase is Phase.ERROR
