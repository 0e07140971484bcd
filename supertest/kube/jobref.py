"""The one resolver of a JobRun's `spec.jobRef`: a TestJob in the run's namespace, else a stored job's id.

The API uses it to copy a TestJob's tests and runTemplate into the JobRun it creates (as CronJob copies its
jobTemplate); the operator uses it when a JobRun still names its tests by jobRef at admission.
"""

from __future__ import annotations

from typing import Any

from supertest.kube import testjobs
from supertest.kube.client import KubeApi, KubeError


async def testjob_spec(kube: KubeApi, namespace: str, name: str) -> dict[str, Any] | None:
    """The spec of TestJob `name` in `namespace`, or None when there is no such TestJob: the jobRef then names
    a stored job, which only the database knows."""
    try:
        body = await kube.get(testjobs.item_path(namespace, name))
    except KubeError as exc:
        if exc.not_found:
            return None
        raise
    spec: dict[str, Any] = body.get("spec") or {}
    return spec
