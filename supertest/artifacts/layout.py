"""Object keys: runs/{runId}/report/..., runs/{runId}/results.json, runs/{runId}/logs.txt."""

from __future__ import annotations

import re

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


def results_key(run_id: str) -> str:
    return run_prefix(run_id) + "results.json"


def logs_key(run_id: str) -> str:
    return run_prefix(run_id) + "logs.txt"


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
