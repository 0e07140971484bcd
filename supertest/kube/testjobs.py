"""The TestJob the API writes for a scheduled job (pure: names, paths and manifests).

Tests import this module, not its functions: pytest would collect a bare `testjob_name` as a test.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from supertest.db.models import JobRecord
from supertest.kube.models import RunTemplate
from supertest.kube.names import (
    ANNOTATION_JOB_ID,
    ANNOTATION_TITLE,
    API_VERSION,
    LABEL_MANAGED_BY,
    MANAGED_BY_API,
    MAX_TESTJOB_NAME,
    TESTJOB_KIND,
    TESTJOB_PLURAL,
)
from supertest.launch import job_test_name

_NOT_DNS = re.compile(r"[^a-z0-9]+")
ID_SUFFIX = 8


def testjob_name(job_id: str, job_name: str) -> str:
    """A DNS-1123 name of at most MAX_TESTJOB_NAME characters: `<slug of the name>-<first 8 of the id>`.

    Unique per job id; store it (jobs.k8s_name) when the TestJob is first written, so a rename keeps it.
    """
    suffix = _NOT_DNS.sub("-", job_id.lower()).strip("-")[:ID_SUFFIX] or "job"
    room = MAX_TESTJOB_NAME - len(suffix) - 1
    stem = _NOT_DNS.sub("-", job_name.lower()).strip("-")[:room].strip("-")
    return f"{stem}-{suffix}" if stem else f"job-{suffix}"


def collection_path(namespace: str | None) -> str:
    """The collection in one namespace, or across all namespaces (None)."""
    if namespace is None:
        return f"/apis/{API_VERSION}/{TESTJOB_PLURAL}"
    return f"/apis/{API_VERSION}/namespaces/{namespace}/{TESTJOB_PLURAL}"


def item_path(namespace: str, name: str, sub: str | None = None) -> str:
    path = f"{collection_path(namespace)}/{name}"
    return f"{path}/{sub}" if sub else path


def build_testjob(job: JobRecord, name: str) -> dict[str, Any]:
    """The TestJob for an API job with a schedule: its stored tests by id, in order (the operator reads them)."""
    if not job.schedule:
        raise ValueError(f"job {job.id!r} has no schedule: it has no TestJob")
    spec: dict[str, Any] = {
        "schedule": job.schedule,
        "timeZone": job.time_zone,
        "concurrencyPolicy": job.concurrency_policy,
        "suspend": job.suspend,
        "successfulRunsHistoryLimit": job.successful_runs_history_limit,
        "failedRunsHistoryLimit": job.failed_runs_history_limit,
        "tests": [
            {"name": job_test_name(i, jt.test.title), "testId": jt.test_id, "language": jt.test.language}
            for i, jt in enumerate(job.tests, start=1)
        ],
    }
    if job.starting_deadline_seconds is not None:
        spec["startingDeadlineSeconds"] = job.starting_deadline_seconds
    return {
        "apiVersion": API_VERSION,
        "kind": TESTJOB_KIND,
        "metadata": {
            "name": name,
            "labels": {LABEL_MANAGED_BY: MANAGED_BY_API},
            "annotations": {ANNOTATION_JOB_ID: job.id, ANNOTATION_TITLE: job.name[:200]},
        },
        "spec": spec,
    }


def jobrun_spec(testjob_spec: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The spec of a JobRun of this TestJob: its tests and runTemplate, copied (as CronJob copies its jobTemplate,
    so editing the TestJob never changes a run already created); `overrides` (a manual run's options) win."""
    template = RunTemplate.model_validate(testjob_spec.get("runTemplate") or {}).to_spec()
    return {**template, **(overrides or {}), "tests": [dict(t) for t in testjob_spec.get("tests") or []]}
