from __future__ import annotations

import json
from pathlib import Path

from supertest.events import Summary
from supertest.phases import Phase
from supertest.verdict import (
    MAX_FAILURES,
    MAX_VERDICT_BYTES,
    FailedTest,
    Verdict,
    VerdictReason,
    decode,
    encode,
    read,
    write,
)


def _verdict(**kw: object) -> Verdict:
    base: dict[str, object] = {
        "phase": Phase.FAILED,
        "exit_code": 1,
        "message": "1 failed, 2 passed",
        "summary": Summary(total=3, passed=2, failed=1, duration_ms=1200),
        "report_key": "runs/r/report/index.html",
        "failures": [FailedTest(test="a.spec.ts > fails", error="Error: expected 1")],
        "first_error": "Error: expected 1",
    }
    base.update(kw)
    return Verdict.model_validate(base)


def test_round_trip_is_compact_json_with_the_wire_names() -> None:
    verdict = _verdict()
    text = encode(verdict)
    assert text == json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    doc = json.loads(text)
    assert doc["exitCode"] == 1 and doc["reportKey"] == "runs/r/report/index.html" and doc["reason"] == "Tests"
    assert decode(text) == verdict


def test_huge_texts_stay_under_kubelets_limit_and_keep_the_result() -> None:
    many = [FailedTest(test="t" * 5000 + str(i), error="é" * 5000) for i in range(50)]
    verdict = _verdict(message="m" * 100_000, first_error="x" * 100_000, failures=many)
    text = encode(verdict)
    assert len(text.encode()) < MAX_VERDICT_BYTES
    back = decode(text)
    assert back is not None and back.phase is Phase.FAILED and back.exit_code == 1
    assert back.summary == verdict.summary and back.report_key == verdict.report_key
    assert 1 <= len(back.failures) <= MAX_FAILURES
    assert back.failures[0].test.startswith("ttt") and back.failures[0].test.endswith("…")


def test_a_tiny_limit_drops_failures_then_shortens_texts() -> None:
    text = encode(_verdict(failures=[FailedTest(test="x" * 100)] * 10, message="m" * 900), limit=400)
    assert len(text.encode()) <= 400
    back = decode(text)
    assert back is not None and back.failures == [] and back.message.startswith("m")


def test_what_is_not_a_verdict_decodes_to_none() -> None:
    assert decode(None) is None and decode("") is None
    assert decode("Traceback (most recent call last):\n  boom") is None  # a log tail from FallbackToLogsOnError
    assert decode('{"phase": "Nope", "exitCode": 1}') is None
    assert decode('{"phase": "Passed"') is None
    newer = decode('{"phase":"Passed","exitCode":0,"addedLater":true}')
    assert newer is not None and newer.phase is Phase.PASSED


def test_upload_failure_is_the_retryable_reason(tmp_path: Path) -> None:
    verdict = _verdict(phase=Phase.ERROR, exit_code=5, reason=VerdictReason.UPLOAD_FAILED)
    assert verdict.retryable and not _verdict().retryable
    path = tmp_path / "termination-log"
    write(path, verdict)
    assert read(path) == verdict
    assert read(tmp_path / "missing") is None
