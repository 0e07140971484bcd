"""CRD group, version, plurals and the labels shared by the operator, the API and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GROUP = "supertest.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "supertest"

# Run id = resource name; its children append "-scripts" or "-a<N>", and the label value must stay <= 63.
MAX_RUN_NAME = 52

LABEL_RUN = f"{GROUP}/run"
LABEL_KIND = f"{GROUP}/kind"
LABEL_ATTEMPT = f"{GROUP}/attempt"
# A sharded run's pods: the shard's index ("0".."31"), or "merge" for the step that merges their reports.
LABEL_SHARD = f"{GROUP}/shard"
LABEL_TRIGGER = f"{GROUP}/trigger"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "supertest-operator"

ANNOTATION_TITLE = f"{GROUP}/title"
ANNOTATION_JOB_ID = f"{GROUP}/job-id"

# TestJob: a cron schedule of JobRuns named <testjob>-<minutes since epoch> (<= MAX_RUN_NAME).
TESTJOB_KIND = "TestJob"
TESTJOB_PLURAL = "testjobs"
MAX_TESTJOB_NAME = 43
LABEL_TESTJOB = f"{GROUP}/testjob"
# Set to any new value to start one JobRun now: kubectl annotate tj/x supertest.dev/run-now=$(date +%s)
ANNOTATION_RUN_NOW = f"{GROUP}/run-now"
ANNOTATION_SCHEDULED_AT = f"{GROUP}/scheduled-at"
# TestJobs written by the API for its scheduled jobs carry this managed-by value; any other TestJob is GitOps-managed.
MANAGED_BY_API = "supertest-api"

RunKind = Literal["test", "job"]


@dataclass(frozen=True, slots=True)
class RunResource:
    kind: str
    plural: str
    singular: str
    short_name: str
    run_kind: RunKind


TESTRUN = RunResource(kind="TestRun", plural="testruns", singular="testrun", short_name="tr", run_kind="test")
JOBRUN = RunResource(kind="JobRun", plural="jobruns", singular="jobrun", short_name="jr", run_kind="job")
RUN_RESOURCES: tuple[RunResource, ...] = (TESTRUN, JOBRUN)


def resource_for_kind(run_kind: str) -> RunResource:
    """`test` -> TestRun, `job` -> JobRun (also accepts the Kind or the plural)."""
    for res in RUN_RESOURCES:
        if run_kind in (res.run_kind, res.kind, res.plural):
            return res
    raise ValueError(f"unknown run kind {run_kind!r}")


# Re-run failed from kubectl: `kubectl annotate tr/x supertest.dev/rerun=failed` makes the operator create a run of
# x's failed tests; it records the new run's name on x (ANNOTATION_RERUN_RUN) and in an Event.
ANNOTATION_RERUN = f"{GROUP}/rerun"
ANNOTATION_RERUN_RUN = f"{GROUP}/rerun-run"
