"""How the background loops report a failed pass: a transient apiserver refusal is a warning, anything else a
traceback."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs
from supertest_operator.loops import log_pass_failure

from supertest.kube.client import KubeError


@pytest.mark.parametrize("status", [429, 503])
def test_a_transient_refusal_is_a_warning_without_traceback(status: int) -> None:
    with capture_logs() as logs:
        try:
            raise KubeError(status, "TooManyRequests", "storage is (re)initializing")
        except KubeError as exc:
            log_pass_failure("schedule_pass_failed", exc)
    [entry] = logs
    assert entry["log_level"] == "warning"
    assert entry["status"] == status
    assert "exc_info" not in entry


@pytest.mark.parametrize("error", [KubeError(500, "InternalError", "etcd"), RuntimeError("a defect")])
def test_anything_else_keeps_its_traceback(error: Exception) -> None:
    with capture_logs() as logs:
        try:
            raise error
        except Exception as exc:
            log_pass_failure("reconcile_failed", exc)
    [entry] = logs
    assert entry["log_level"] == "error"
    assert entry["exc_info"] is True
