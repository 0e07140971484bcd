"""Public URLs of a run: the report behind the results proxy and the SSE status stream."""

from __future__ import annotations

from supertest.artifacts.layout import report_url as report_path
from supertest.settings import ApiSettings


def _base(settings: ApiSettings) -> str:
    return (settings.public_url or "").rstrip("/")


def report_url(settings: ApiSettings, run_id: str) -> str:
    return report_path(run_id, _base(settings))


def status_url(settings: ApiSettings, run_id: str, kind: str) -> str:
    twin = "job-status" if kind == "job" else "test-status"
    return f"{_base(settings)}/api/{twin}/sse/{run_id}"
