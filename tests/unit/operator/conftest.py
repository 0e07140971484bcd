from __future__ import annotations

from typing import Any

import pytest
from supertest_operator.settings import OperatorSettings


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> OperatorSettings:
    for var in ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    return OperatorSettings(
        REDIS_URL="redis://redis:6379/0",
        S3_ENDPOINT="http://s3:9000",
        AWS_ACCESS_KEY_ID="AKIAEXAMPLE",
        AWS_SECRET_ACCESS_KEY="a-real-looking-secret",
        S3_CREDENTIALS_SECRET="supertest-s3",
        RUNNER_IMAGE="ghcr.io/supertest/runner:1.0",
        RUNNER_DIRECT_CREDENTIALS=True,
    )


def run_body(
    name: str = "demo",
    kind: str = "TestRun",
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    **meta: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "supertest.dev/v1alpha1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": "uid-1",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "generation": 1,
            "resourceVersion": "7",
            **meta,
        },
        "spec": spec if spec is not None else {"script": "test('x', () => {})"},
        "status": status or {},
    }
