"""TestRun/JobRun manifests from an API RunRequest (pure)."""

from __future__ import annotations

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


def run_manifest(run_id: str, request: RunRequest) -> dict[str, Any]:
    annotations = {ANNOTATION_TITLE: request.title[:200]} if request.title else {}
    if request.job_id and request.kind == "job":
        annotations[ANNOTATION_JOB_ID] = request.job_id
    kind = TESTRUN.kind if request.kind == "test" else JOBRUN.kind
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": run_id, "labels": {LABEL_TRIGGER: request.trigger}, "annotations": annotations},
        "spec": request.spec_dict(),
    }
