"""Playwright's JSON report -> the run Summary; pure functions over the parsed document."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supertest.events import Summary

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

    @property
    def ran(self) -> bool:
        """Whether any test executed (skipped and interrupted ones count as not run)."""
        s = self.summary
        return s.passed + s.failed + s.flaky > 0


def _count(stats: dict[str, Any], key: str) -> int:
    value = stats.get(key, 0)
    return int(value) if isinstance(value, int | float) else 0


def summarise(stats: dict[str, Any]) -> Summary:
    passed, failed = _count(stats, "expected"), _count(stats, "unexpected")
    flaky, skipped = _count(stats, "flaky"), _count(stats, "skipped")
    return Summary(
        total=passed + failed + flaky + skipped,
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


def _failed_tests(suites: Any, path: tuple[str, ...] = ()) -> Iterator[dict[str, str]]:
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
                yield {
                    "test": TITLE_SEPARATOR.join((*here, str(spec.get("title") or ""))),
                    "error": _first_line(messages[0]) if messages else "",
                }


def parse_results(document: dict[str, Any]) -> ParsedResults:
    stats = document.get("stats")
    test_errors = [m for result in _walk_results(document.get("suites")) for m in _messages(result.get("errors"))]
    return ParsedResults(
        summary=summarise(stats if isinstance(stats, dict) else {}),
        errors=_messages(document.get("errors")),
        test_errors=test_errors,
        failures=list(_failed_tests(document.get("suites")))[:50],
    )


def load_results(path: Path) -> ParsedResults | None:
    """None when Playwright wrote no (readable) results, e.g. it crashed or was killed."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return parse_results(document) if isinstance(document, dict) else None
