"""Public URLs of a run: the report behind the results proxy and the SSE status stream."""

from __future__ import annotations

from supertest.settings import ApiSettings


def _base(settings: ApiSettings) -> str:
    return (settings.public_url or "").rstrip("/")


def report_url(settings: ApiSettings, run_id: str) -> str:
    return f"{_base(settings)}/api/test-results/{run_id}/report/index.html"


def status_url(settings: ApiSettings, run_id: str, kind: str) -> str:
    twin = "job-status" if kind == "job" else "test-status"
    return f"{_base(settings)}/api/{twin}/sse/{run_id}"
