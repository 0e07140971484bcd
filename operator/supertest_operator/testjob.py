"""A typed snapshot of one TestJob and of the JobRuns it created, built from raw bodies."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supertest.db.testjobs import gitops_job_id
from supertest.kube.models import TestJobStatus, parse_status, parse_time
from supertest.kube.names import (
    ANNOTATION_JOB_ID,
    ANNOTATION_RUN_NOW,
    ANNOTATION_SCHEDULED_AT,
    ANNOTATION_TITLE,
    LABEL_TESTJOB,
    LABEL_TRIGGER,
    TESTJOB_KIND,
)
from supertest.phases import Phase

TRIGGER_SCHEDULE = "schedule"
TRIGGER_MANUAL = "manual"
MAX_TOKEN = 200  # status.lastManualRun allows 253


def manual_token(annotation: str) -> str:
    """What status.lastManualRun records for a run-now value: itself, or a digest when too long for the schema."""
    if len(annotation) <= MAX_TOKEN:
        return annotation
    return "sha256:" + hashlib.sha256(annotation.encode()).hexdigest()


def manual_run_name(testjob: str, token: str) -> str:
    """One run per distinct run-now value: re-applying the same annotation cannot start a second run."""
    return f"{testjob}-m{hashlib.sha256(token.encode()).hexdigest()[:7]}"


@dataclass(frozen=True, slots=True)
class TestJobRef:
    __test__ = False  # not a pytest class

    namespace: str
    name: str
    uid: str

    @property
    def kind(self) -> str:
        return TESTJOB_KIND

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class TestJobView:
    __test__ = False  # not a pytest class

    ref: TestJobRef
    body: Mapping[str, Any]
    spec: Mapping[str, Any]
    status: TestJobStatus
    status_raw: Mapping[str, Any]
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    created: datetime
    generation: int
    deleting: bool

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> TestJobView:
        meta = body.get("metadata") or {}
        created = parse_time(meta.get("creationTimestamp"))
        assert created is not None, "the apiserver always sets creationTimestamp"
        status_raw = body.get("status") or {}
        return cls(
            ref=TestJobRef(namespace=meta["namespace"], name=meta["name"], uid=meta.get("uid", "")),
            body=body,
            spec=body.get("spec") or {},
            status=TestJobStatus.model_validate(status_raw),
            status_raw=status_raw,
            labels=meta.get("labels") or {},
            annotations=meta.get("annotations") or {},
            created=created,
            generation=int(meta.get("generation") or 0),
            deleting=bool(meta.get("deletionTimestamp")),
        )

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def api_job_id(self) -> str | None:
        """The stored job this TestJob was written for by the API (None: applied from git or kubectl)."""
        return self.annotations.get(ANNOTATION_JOB_ID)

    @property
    def job_id(self) -> str:
        return self.api_job_id or gitops_job_id(self.ref.namespace, self.ref.name)  # the row the mirror writes

    @property
    def title(self) -> str:
        return self.annotations.get(ANNOTATION_TITLE, self.name)[:200]

    @property
    def run_now(self) -> str | None:
        return self.annotations.get(ANNOTATION_RUN_NOW) or None


@dataclass(frozen=True, slots=True)
class OwnedRun:
    """A JobRun a TestJob created (found by its label), as much as the scheduler needs."""

    namespace: str
    name: str
    uid: str
    testjob: str
    owner_uid: str
    trigger: str
    phase: Phase | None
    scheduled_at: datetime | None
    created: datetime | None
    completed_at: datetime | None
    retry_pending: bool
    deleting: bool

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> OwnedRun:
        meta = body.get("metadata") or {}
        labels = meta.get("labels") or {}
        annotations = meta.get("annotations") or {}
        status = parse_status(body.get("status"))
        owners: list[dict[str, Any]] = meta.get("ownerReferences") or []
        owner = next((o for o in owners if o.get("kind") == TESTJOB_KIND), {})
        return cls(
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            uid=meta.get("uid", ""),
            testjob=labels.get(LABEL_TESTJOB, ""),
            owner_uid=str(owner.get("uid", "")),
            trigger=labels.get(LABEL_TRIGGER, ""),
            phase=status.phase,
            scheduled_at=parse_time(annotations.get(ANNOTATION_SCHEDULED_AT)),
            created=parse_time(meta.get("creationTimestamp")),
            completed_at=parse_time(status.completion_time),
            retry_pending=status.retry_at is not None,
            deleting=bool(meta.get("deletionTimestamp")),
        )

    @property
    def finished(self) -> bool:
        # An Error run under spec.retries comes back as Queued: not finished while a retry is pending.
        return (
            self.phase is not None and self.phase.is_terminal and not (self.phase is Phase.ERROR and self.retry_pending)
        )

    @property
    def active(self) -> bool:
        return not self.finished and not self.deleting
