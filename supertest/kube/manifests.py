"""TestRun/JobRun manifests from an API RunRequest (pure)."""

from __future__ import annotations

import re
from typing import Any

from supertest.kube.names import (
    ANNOTATION_JOB_ID,
    ANNOTATION_TITLE,
    API_VERSION,
    JOBRUN,
    LABEL_TRIGGER,
    TESTRUN,
)
from supertest.launch import RunRequest

_TEST_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def job_test_name(index: int, title: str) -> str:
    """`<NN>-<slug of the title>`, a JobRun/TestJob test name ([A-Za-z0-9][-_.A-Za-z0-9]*, at most 100): the position
    keeps the order and makes it unique."""
    stem = _TEST_NAME.sub("-", title).strip("-._")[:80].strip("-._") or "test"
    return f"{index:02d}-{stem}"


def run_manifest(run_id: str, request: RunRequest) -> dict[str, Any]:
    spec: dict[str, Any] = {"priority": request.priority, "retries": request.retries}
    if request.timeout_seconds is not None:
        spec["timeoutSeconds"] = request.timeout_seconds
    if request.workers is not None:
        spec["workers"] = request.workers
    if request.env:
        spec["env"] = [{"name": k, "value": v} for k, v in sorted(request.env.items())]
    annotations = {ANNOTATION_TITLE: request.title[:200]} if request.title else {}
    if request.kind == "test":
        if len(request.scripts) != 1:
            raise ValueError("a test run has exactly one script")
        script = request.scripts[0]
        spec.update(script=script.script, language=script.language)
        if request.test_id:
            spec["testId"] = request.test_id
        kind = TESTRUN.kind
    else:
        if request.job_ref:
            spec["jobRef"] = request.job_ref  # the operator reads the tests (a TestJob's, or a stored job's)
        else:
            spec["tests"] = [
                {"name": job_test_name(i, s.name), "script": s.script, "language": s.language}
                for i, s in enumerate(request.scripts, start=1)
            ]
        if request.job_id:
            annotations[ANNOTATION_JOB_ID] = request.job_id
        kind = JOBRUN.kind
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": run_id, "labels": {LABEL_TRIGGER: request.trigger}, "annotations": annotations},
        "spec": spec,
    }
