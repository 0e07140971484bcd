"""Where a run's artifacts live: object keys (runs/{runId}/report/..., results.json, junit.xml,
logs.txt), the artifacts
origin's URLs that serve them ({ARTIFACTS_URL}/{token}/runs/{runId}/...), and the API's stable entry
(/api/test-results/{runId}/...) that only redirects there. The one definition of all three; everything else asks here.

The token is a path segment, not a query parameter: the Playwright report links its files relatively (data/...,
trace/index.html?trace=...), and the trace viewer's service worker is scoped by path, so everything a report loads
stays under the same run-scoped prefix."""

from __future__ import annotations

import re

# The API route of the results proxy, and the report's entry page under a run.
RESULTS_ROUTE = "/api/test-results"
REPORT_INDEX = "index.html"
JUNIT_FILE = "junit.xml"
_RUN_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class InvalidArtifactPath(ValueError):
    pass


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise InvalidArtifactPath(f"invalid run id {run_id!r}: expected a DNS label (a-z, 0-9, '-')")
    return run_id


def run_prefix(run_id: str) -> str:
    return f"runs/{check_run_id(run_id)}/"


def report_prefix(run_id: str) -> str:
    return run_prefix(run_id) + "report/"


def report_key(run_id: str) -> str:
    """The report's entry page, as stored on the run row."""
    return report_prefix(run_id) + REPORT_INDEX


def results_key(run_id: str) -> str:
    return run_prefix(run_id) + "results.json"


def junit_key(run_id: str) -> str:
    """Playwright's JUnit XML of the run, for CI systems."""
    return run_prefix(run_id) + JUNIT_FILE


def logs_key(run_id: str) -> str:
    return run_prefix(run_id) + "logs.txt"


def shard_prefix(run_id: str, index: int) -> str:
    """A shard's own outputs (its blob report, results.json and logs), read by the merge step."""
    return f"{run_prefix(run_id)}shards/{index}/"


def shard_blob_key(run_id: str, index: int) -> str:
    return shard_prefix(run_id, index) + "blob.zip"


def safe_relative_path(path: str) -> str:
    """Normalise a client-supplied path under a run, refusing anything that could escape it."""
    if "\x00" in path or "\\" in path:
        raise InvalidArtifactPath("path contains a NUL byte or a backslash")
    segments = path.split("/")
    if path.startswith("/") or any(segment in ("..", ".") for segment in segments):
        raise InvalidArtifactPath("path must be relative and must not contain '.' or '..' segments")
    parts = [segment for segment in segments if segment]
    if not parts:
        raise InvalidArtifactPath("path is empty")
    return "/".join(parts)


def results_url(run_id: str, relative: str = "", base: str = "") -> str:
    """The API URL of a run's object (`relative` to runs/{runId}/); `base` is the public origin, if any.

    Not validated: a kubectl-made run's name may be any DNS subdomain, and a URL is only ever read back.
    """
    return f"{base}{RESULTS_ROUTE}/{run_id}/{relative}"


def artifact_scope(token: str, run_id: str) -> str:
    """The artifacts origin's path prefix of one run under one token: `/{token}/runs/{runId}/`."""
    return f"/{token}/{run_prefix(run_id)}"


def artifact_url(origin: str, token: str, run_id: str, relative: str = "") -> str:
    """Where the artifacts origin serves the run's object `relative` (to runs/{runId}/)."""
    return origin.rstrip("/") + artifact_scope(token, run_id) + relative


def report_url(run_id: str, base: str = "") -> str:
    """Where the run's HTML report is served: what `POST /api/test` answers and the runner publishes."""
    return results_url(run_id, "report/" + REPORT_INDEX, base)
