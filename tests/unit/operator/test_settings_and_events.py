from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from supertest_operator.db_mirror import run_row
from supertest_operator.handlers.pod_status import verdict_fields
from supertest_operator.run import RunView
from supertest_operator.settings import OperatorSettings

from supertest.events import Summary
from supertest.phases import Phase
from supertest.verdict import FailedTest, Verdict
from tests.unit.operator.conftest import run_body


def test_settings_defaults_and_validation(settings: OperatorSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.running_capacity == 5 and settings.queued_capacity == 50
    assert settings.runner_argv == ["python", "-m", "supertest_runner"]
    assert settings.namespace_list == ["default"]
    assert settings.ttl_for("Passed") < settings.ttl_for("Failed")
    with pytest.raises(ValidationError, match="REDIS_URL is required"):
        OperatorSettings(S3_ENDPOINT=None, REDIS_URL=None)
    with pytest.raises(ValidationError, match="placeholder"):
        OperatorSettings(
            REDIS_URL="redis://r",
            S3_ENDPOINT="http://s3",
            AWS_SECRET_ACCESS_KEY="minioadmin",
            RUNNER_DIRECT_CREDENTIALS=True,
        )
    local = OperatorSettings(RUN_BACKEND="local", S3_ENDPOINT="http://s3", AWS_SECRET_ACCESS_KEY="minioadmin")
    assert local.is_local
    monkeypatch.setenv("RUNNER_EXTRA_ENV", '{"CHROMIUM_PATH": "/usr/bin/chromium"}')
    extra = OperatorSettings(REDIS_URL="redis://r", RUNNER_DIRECT_CREDENTIALS=True)
    assert extra.runner_extra_env == {"CHROMIUM_PATH": "/usr/bin/chromium"}


URL = "/api/test-results/r/report/index.html"


def test_verdict_fields_fill_summary_report_and_failures() -> None:
    verdict = Verdict(
        phase=Phase.FAILED,
        exit_code=1,
        summary=Summary(total=3, passed=2, failed=1, duration_ms=900),
        report_key="runs/r/report/index.html",
        failures=[FailedTest(test="a.spec.ts > fails", error="Error: boom")],
    )
    fields = verdict_fields("r", verdict)
    assert fields["summary"]["durationMs"] == 900 and fields["summary"]["failed"] == 1
    assert fields["reportURL"] == URL
    assert fields["failures"] == [{"test": "a.spec.ts > fails", "error": "Error: boom"}]
    # No stored report, no link to one.
    assert "reportURL" not in verdict_fields("r", Verdict(phase=Phase.ERROR, exit_code=2))


def test_run_row_mirrors_the_status() -> None:
    status = {
        "phase": "Passed",
        "attempts": 1,
        "queuedAt": "2026-01-01T00:00:00.5Z",
        "startTime": "2026-01-01T00:00:01Z",
        "completionTime": "2026-01-01T00:00:04Z",
        "reportURL": "/api/test-results/demo/report/index.html",
        "summary": {"total": 2, "passed": 2, "failed": 0, "flaky": 0, "skipped": 0, "durationMs": 2500},
    }
    body = run_body(status=status, labels={"supertest.dev/trigger": "api"})
    row = run_row(RunView.from_body(body), include_spec=True)
    assert row["phase"] == "Passed" and row["trigger"] == "api" and row["kind"] == "test"
    assert row["duration_ms"] == 3000 and row["passed"] == 2 and row["total"] == 2
    assert row["report_key"] == "runs/demo/report/index.html"
    assert row["created_at"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert row["k8s_uid"] == "uid-1" and row["namespace"] == "ns" and row["spec"]["script"]
    assert run_row(RunView.from_body(run_body()))["trigger"] == "kubectl"


def test_the_verdicts_failures_reach_the_row_the_outbox_reads() -> None:
    failures = [{"test": "a.spec.ts > fails", "error": "Error: boom"}]
    body = run_body(status={"phase": "Failed", "failures": failures})
    assert run_row(RunView.from_body(body))["failures"] == failures
    assert "failures" not in run_row(RunView.from_body(run_body(status={"phase": "Running"})))
