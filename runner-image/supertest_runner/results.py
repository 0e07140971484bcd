"""Playwright's JSON report -> the run Summary; pure functions over the parsed document."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supertest.events import Summary
from supertest.testresults import test_id_of

TITLE_SEPARATOR = " \u203a "  # Playwright's " > " between file, describe blocks and test title


@dataclass(frozen=True, slots=True)
class ParsedResults:
    summary: Summary
    # Top-level errors: a script that does not compile, "No tests found", a failing global hook.
    errors: list[str] = field(default_factory=list)
    # Errors of individual test attempts, to recognise e.g. a request for a browser that is not here.
    test_errors: list[str] = field(default_factory=list)
    # The failed tests: {"test": "file > describe > title" (Playwright's separator), "error": its first error line}.
    failures: list[dict[str, str]] = field(default_factory=list)
    # The failed tests that are quarantined: reported, but they do not fail the run.
    quarantined: list[dict[str, str]] = field(default_factory=list)

    @property
    def ran(self) -> bool:
        """Whether any test executed (skipped and interrupted ones count as not run)."""
        s = self.summary
        return s.passed + s.failed + s.flaky + s.quarantined > 0


def _count(stats: dict[str, Any], key: str) -> int:
    value = stats.get(key, 0)
    return int(value) if isinstance(value, int | float) else 0


def summarise(stats: dict[str, Any]) -> Summary:
    passed, failed = _count(stats, "expected"), _count(stats, "unexpected")
    flaky, skipped = _count(stats, "flaky"), _count(stats, "skipped")
    return Summary(
        total=passed + failed + flaky + skipped,  # a quarantined failure moves from failed, the total stays
        passed=passed,
        failed=failed,
        flaky=flaky,
        skipped=skipped,
        duration_ms=round(float(stats.get("duration", 0) or 0)),
    )


def _messages(errors: Any) -> list[str]:
    if not isinstance(errors, list):
        return []
    return [str(e.get("message") or e.get("stack") or e) for e in errors if isinstance(e, dict)]


def _walk_results(suites: Any) -> Iterator[dict[str, Any]]:
    for suite in suites if isinstance(suites, list) else []:
        yield from _walk_results(suite.get("suites"))
        for spec in suite.get("specs") or []:
            for test in spec.get("tests") or []:
                yield from test.get("results") or []


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _first_line(text: str, limit: int = 300) -> str:
    line = next((ln.strip() for ln in _ANSI.sub("", text).splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _failed_tests(suites: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, dict[str, str]]]:
    """(test id, failure) of every unexpected test; the id as supertest.testresults makes it."""
    for suite in suites if isinstance(suites, list) else []:
        title = str(suite.get("title") or "")
        here = (*path, title) if title else path
        yield from _failed_tests(suite.get("suites"), here)
        for spec in suite.get("specs") or []:
            for test in spec.get("tests") or []:
                if test.get("status") != "unexpected":
                    continue
                results = test.get("results") or []
                messages = [m for r in results for m in _messages(r.get("errors"))]
                titles = (*here, str(spec.get("title") or ""))
                failure = {"test": TITLE_SEPARATOR.join(titles), "error": _first_line(messages[0]) if messages else ""}
                # The top suite is the file; its title is the file's path under the tests folder.
                yield test_id_of(titles[0], titles[1:]), failure


def parse_results(document: dict[str, Any], quarantined: frozenset[str] = frozenset()) -> ParsedResults:
    """`quarantined`: test ids whose failures are counted apart (summary.quarantined), not as failed."""
    stats = document.get("stats")
    test_errors = [m for result in _walk_results(document.get("suites")) for m in _messages(result.get("errors"))]
    failed = list(_failed_tests(document.get("suites")))
    excused = sum(test_id in quarantined for test_id, _ in failed)
    summary = summarise(stats if isinstance(stats, dict) else {})
    if excused:
        failed_left = max(0, summary.failed - excused)
        summary = summary.model_copy(update={"failed": failed_left, "quarantined": summary.failed - failed_left})
    return ParsedResults(
        summary=summary,
        errors=_messages(document.get("errors")),
        test_errors=test_errors,
        failures=[f for test_id, f in failed if test_id not in quarantined][:50],
        quarantined=[f for test_id, f in failed if test_id in quarantined][:50],
    )


def load_results(path: Path, quarantined: frozenset[str] = frozenset()) -> ParsedResults | None:
    """None when Playwright wrote no (readable) results, e.g. it crashed or was killed."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return parse_results(document, quarantined) if isinstance(document, dict) else None


def test_ids_of(raw: str) -> list[str]:
    """A JSON list of test ids (SUPERTEST_QUARANTINED_TESTS, SUPERTEST_ONLY_TESTS); anything else is none."""
    try:
        value = json.loads(raw) if raw.strip() else []
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def quarantined_ids(raw: str) -> frozenset[str]:
    """SUPERTEST_QUARANTINED_TESTS; anything but a JSON list is no quarantine."""
    return frozenset(test_ids_of(raw))
