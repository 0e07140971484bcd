"""Re-run failed: which tests of a finished run to run again, and how the runner selects exactly those.

Selection is Playwright's `--test-list` file (Playwright >= 1.56): one line per test, its file, describe blocks
and title joined by U+203A, matched against each test's file (relative to the config's rootDir, as results.json
and our test ids name it) and its title path. That is exact, where `--grep` would be a regular expression over
the joined title (one test's title can be a substring of another's), and `file:line` would need line numbers
that test_results does not keep (and that an edited file moves).

Known limit: a title that itself contains " > " (our test id separator), U+203A or a line break cannot be written
as a line; such a test is selected by its whole file instead (more tests run, none is missed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from supertest.phases import Phase
from supertest.testresults import TEST_ID_SEPARATOR

# spec.onlyTests: at most this many test ids, each at most a test_results id's length. The ids reach the runner as
# one environment variable, which Linux caps at 128 KiB: 100 x 1024 characters stays under it.
MAX_ONLY_TESTS = 100
MAX_TEST_ID_LENGTH = 1024
# Only tests that failed the run are re-run: a flaky test passed, a quarantined failure did not fail the run.
RERUN_STATUSES: frozenset[str] = frozenset({"failed", "timedOut"})
# What a re-run does not take over from its original: its cancel flag, its own link and selection, and its shards
# (a few failed tests need one pod, and a shard whose files hold none of them would find no test to run).
_NOT_INHERITED = frozenset({"cancel", "rerunOf", "onlyTests", "shards"})
TEST_LIST_SEPARATOR = " \u203a "  # U+203A: Playwright splits a line on it when present, else on
# every ">", which is common inside titles ("a > b"); U+203A hardly ever is.


class NothingToRerun(Exception):
    """The run is not finished, or finished with no failed test; the message says which."""


class TooManyToRerun(ValueError):
    """More failed tests than spec.onlyTests holds."""


def failed_test_ids(results: Iterable[tuple[str, str]]) -> list[str]:
    """(test id, status) of a run's results -> the ids to re-run, in report order, each once (a test of two
    projects has two rows)."""
    return list(dict.fromkeys(test_id for test_id, status in results if status in RERUN_STATUSES))


def check_rerunnable(run_id: str, phase: str, failed: Sequence[str]) -> None:
    if not Phase(phase).is_terminal:
        raise NothingToRerun(f"run {run_id} is {phase}; only a finished run can be re-run")
    if not failed:
        raise NothingToRerun(
            f"run {run_id} finished as {phase} with no failed tests to re-run "
            "(flaky, skipped and quarantined tests are not re-run; a run's tests are known once its results are stored)"
        )
    if len(failed) > MAX_ONLY_TESTS:
        raise TooManyToRerun(
            f"run {run_id} has {len(failed)} failed tests; a re-run takes at most {MAX_ONLY_TESTS}: "
            "run it whole instead"
        )


def rerun_spec(original_spec: dict[str, Any], original: str, only_tests: Sequence[str]) -> dict[str, Any]:
    """The re-run's TestRun/JobRun spec: the original's as it ran (same scripts, so the same file names and test
    ids), linked to it and limited to `only_tests`. One shape for the API (both modes) and the operator."""
    spec = {k: v for k, v in original_spec.items() if k not in _NOT_INHERITED}
    spec["rerunOf"] = original
    spec["onlyTests"] = list(only_tests)
    return spec


def _line(test_id: str) -> str:
    parts = test_id.split(TEST_ID_SEPARATOR)
    file, titles = parts[0], parts[1:]
    tokens = [file, *titles]
    exact = all(t and t == t.strip() and "\u203a" not in t and "\n" not in t and "\r" not in t for t in tokens)
    return TEST_LIST_SEPARATOR.join(tokens) if exact else file.strip()


def build_test_list(test_ids: Iterable[str]) -> str:
    """The `--test-list` file's text for these test ids."""
    lines = dict.fromkeys(_line(t) for t in test_ids)
    return "".join(f"{line}\n" for line in lines if line)
