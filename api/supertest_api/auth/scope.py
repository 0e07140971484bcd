"""The gate of job-scoped (CI trigger) keys: default deny, and a short list of what such a key may do.

A key made with `supertest apikey create --job NAME` may run its job and follow and read that job's runs. Any
other route (another job, tests, the playground, admin: channels, variables, keys) answers 403, so a leaked CI
key can start one monitor and read its results, nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from supertest_api.errors import Forbidden

# (method, route template) -> which path or query parameter must name the key's job ("job") or one of its runs
# ("run"); None: allowed as is (the route itself narrows what a scoped key sees).
_ALLOWED: dict[tuple[str, str], tuple[str, str] | None] = {
    ("GET", "/api/auth/me"): None,
    ("GET", "/api/jobs"): None,  # lists only the key's job
    ("GET", "/api/jobs/{job_id}"): ("job", "job_id"),
    ("POST", "/api/jobs/{job_id}/run"): ("job", "job_id"),
    ("GET", "/api/runs"): ("job", "jobId"),
    ("GET", "/api/runs/{run_id}"): ("run", "run_id"),
    ("GET", "/api/runs/{run_id}/artifacts"): ("run", "run_id"),
    ("GET", "/api/runs/{run_id}/notifications"): ("run", "run_id"),
    ("GET", "/api/job-status/sse/{run_id}"): ("run", "run_id"),
    ("GET", "/api/test-results/{run_id}"): ("run", "run_id"),
    ("GET", "/api/test-results/{run_id}/{path:path}"): ("run", "run_id"),
}


@dataclass(frozen=True, slots=True)
class RouteCall:
    method: str
    template: str
    path_params: Mapping[str, str]
    query: Mapping[str, str]


def check_job_scope(job_id: str, call: RouteCall, job_of_run: Callable[[str], str | None]) -> None:
    """Raise Forbidden unless a key scoped to `job_id` may make this call."""
    method = "GET" if call.method.upper() == "HEAD" else call.method.upper()
    key = (method, call.template)
    if key not in _ALLOWED:
        raise Forbidden(
            f"this API key may only trigger job {job_id} and read its runs; {method} {call.template} is not allowed"
        )
    need = _ALLOWED[key]
    if need is None:
        return
    kind, param = need
    value = call.path_params.get(param) or call.query.get(param)
    ok = value == job_id if kind == "job" else value is not None and job_of_run(value) == job_id
    if not ok:
        raise Forbidden(f"this API key is scoped to job {job_id}: it may not use another job or its runs")
