"""JUnit XML from a run: Playwright's results.json (one <testsuite> per spec file), or, for a run that produced
none (an Error, a timeout before any result), one errored test case carrying the run's message. Pure."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

TITLE_SEPARATOR = " \u203a "
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# XML 1.0 allows tab, newline, carriage return and these ranges only; error texts may carry other control bytes.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str) -> str:
    """Text safe inside XML: terminal colours removed, characters XML 1.0 forbids dropped."""
    return _NOT_XML.sub("", _ANSI.sub("", text))


def _time(ms: float) -> str:
    return f"{max(0.0, ms) / 1000:.3f}"


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in clean(text).splitlines() if ln.strip()), "")


def _cases(suite: dict[str, Any], path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    for spec in suite.get("specs") or []:
        for test in spec.get("tests") or []:
            yield (*path, str(spec.get("title") or "")), test
    for child in suite.get("suites") or []:
        title = str(child.get("title") or "")
        yield from _cases(child, (*path, title) if title else path)


def _errors(test: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for result in test.get("results") or []:
        for err in result.get("errors") or []:
            if isinstance(err, dict):
                out.append(str(err.get("message") or err.get("stack") or ""))
    return out


def junit_xml(run: dict[str, Any], results: dict[str, Any] | None) -> str:
    """`run` is GET /api/runs/{id}; `results` is the run's results.json, if it has one."""
    run_id = str(run.get("runId") or "")
    root = ET.Element("testsuites", name=f"supertest {run.get('title') or run_id}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    for top in (results or {}).get("suites") or []:
        file_name = str(top.get("file") or top.get("title") or "spec")
        suite = ET.SubElement(root, "testsuite", name=file_name, file=file_name, id=run_id)
        counts = {"tests": 0, "failures": 0, "skipped": 0, "time": 0.0}
        for titles, test in _cases(top, ()):
            duration = sum(float(r.get("duration") or 0) for r in test.get("results") or [])
            name = clean(TITLE_SEPARATOR.join(t for t in titles if t))
            project = str(test.get("projectName") or "")
            case = ET.SubElement(
                suite,
                "testcase",
                name=name,
                classname=file_name + (f" [{project}]" if project else ""),
                time=_time(duration),
            )
            counts["tests"] += 1
            counts["time"] += duration
            status = test.get("status")
            if status == "unexpected":
                messages = _errors(test) or ["failed"]
                failure = ET.SubElement(case, "failure", message=_first_line(messages[0]), type="failure")
                failure.text = clean("\n\n".join(messages))
                counts["failures"] += 1
            elif status == "skipped":
                ET.SubElement(case, "skipped")
                counts["skipped"] += 1
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", "0")
        suite.set("skipped", str(counts["skipped"]))
        suite.set("time", _time(counts["time"]))
        totals["tests"] += counts["tests"]
        totals["failures"] += counts["failures"]
        totals["time"] += counts["time"]
    phase = str(run.get("phase") or "")
    if phase in ("Error", "TimedOut", "Cancelled") or not len(root):
        # The run itself did not complete: one case says so, so a CI dashboard never shows an empty green.
        suite = ET.SubElement(root, "testsuite", name="supertest run", id=run_id, tests="1", failures="0", errors="1")
        case = ET.SubElement(suite, "testcase", name=f"run {run_id}", classname="supertest")
        error = ET.SubElement(case, "error", message=_first_line(str(run.get("message") or phase)), type=phase)
        error.text = clean(str(run.get("message") or ""))
        totals["tests"] += 1
        totals["errors"] += 1
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", str(totals["errors"]))
    root.set("time", _time(float(totals["time"])))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
