"""JUnit XML from Playwright's JSON results, validated against the committed JUnit schema (tests/schemas)."""

from __future__ import annotations

import json
from pathlib import Path

import xmlschema

from supertest.cli.junit import junit_xml

REPO = Path(__file__).resolve().parents[3]
SCHEMA = xmlschema.XMLSchema(str(REPO / "tests" / "schemas" / "junit-10.xsd"))
MIXED = REPO / "tests" / "unit" / "runner" / "fixtures" / "mixed.json"


def test_results_become_valid_junit_with_failures() -> None:
    results = json.loads(MIXED.read_text())
    xml = junit_xml({"runId": "jr-1", "phase": "Failed", "title": "shop"}, results)
    SCHEMA.validate(xml)
    doc = SCHEMA.to_dict(xml)
    cases = [c for s in doc["testsuite"] for c in s["testcase"]]
    assert int(doc["@tests"]) == len(cases) > 0
    assert int(doc["@failures"]) == sum(1 for c in cases if "failure" in c) > 0


def test_a_run_without_results_is_one_errored_case_with_control_characters_removed() -> None:
    xml = junit_xml({"runId": "jr-2", "phase": "Error", "message": "\x1b[31mSyntaxError\x1b[0m: bad\x00 token"}, None)
    SCHEMA.validate(xml)
    doc = SCHEMA.to_dict(xml)
    error = doc["testsuite"][0]["testcase"][0]["error"][0]
    assert error["@message"] == "SyntaxError: bad token" and error["@type"] == "Error"
    assert doc["@errors"] == "1"
