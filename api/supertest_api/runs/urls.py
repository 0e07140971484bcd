"""Public URLs of a run: its report (on the artifacts origin, under a fresh token) and the SSE status stream."""

from __future__ import annotations

from dataclasses import dataclass

from supertest.artifacts.layout import JUNIT_FILE, results_url
from supertest.artifacts.layout import report_url as report_path
from supertest.settings import ApiSettings
from supertest_api.artifacts_origin.links import ArtifactLinks


def _base(settings: ApiSettings) -> str:
    return (settings.public_url or "").rstrip("/")


@dataclass(frozen=True, slots=True)
class RunUrls:
    settings: ApiSettings
    links: ArtifactLinks | None

    def report(self, run_id: str, kind: str) -> str:
        """The report on the artifacts origin for this viewer; without one, the API's (file-less) stable path."""
        if self.links is not None:
            return self.links.report(run_id, kind)
        return report_path(run_id, _base(self.settings))

    def junit(self, run_id: str, kind: str) -> str:
        """The run's junit.xml, next to its report (same origin, same token rule)."""
        if self.links is not None:
            return self.links.url(run_id, kind, JUNIT_FILE)
        return results_url(run_id, JUNIT_FILE, _base(self.settings))

    def status(self, run_id: str, kind: str) -> str:
        twin = "job-status" if kind == "job" else "test-status"
        return f"{_base(self.settings)}/api/{twin}/sse/{run_id}"
