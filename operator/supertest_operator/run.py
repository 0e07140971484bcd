"""A typed snapshot of one TestRun/JobRun object, built from the raw body kopf or the API hands us."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from supertest.admission import QueuedRun
from supertest.kube.models import RunStatus, parse_status, parse_time
from supertest.kube.names import ANNOTATION_TITLE, LABEL_TRIGGER, RunResource, resource_for_kind
from supertest.phases import Phase

# Most runs have no labels or annotations left once slimmed: one shared, read-only empty mapping for all of them.
_NONE: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RunRef:
    """Enough to address a run and own its children."""

    resource: RunResource
    namespace: str
    name: str
    uid: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.resource.plural, self.namespace, self.name)

    @property
    def kind(self) -> str:
        return self.resource.kind


@dataclass(frozen=True, slots=True)
class RunView:
    ref: RunRef
    spec: Mapping[str, Any]
    status: RunStatus
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    created: datetime
    generation: int
    resource_version: str
    deleting: bool

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> RunView:
        meta = body.get("metadata") or {}
        resource = resource_for_kind(str(body.get("kind", "")))
        created = parse_time(meta.get("creationTimestamp"))
        assert created is not None, "the apiserver always sets creationTimestamp"
        return cls(
            ref=RunRef(
                resource=resource, namespace=sys.intern(meta["namespace"]), name=meta["name"], uid=meta.get("uid", "")
            ),
            spec=body.get("spec") or {},
            status=parse_status(body.get("status")),
            labels=meta.get("labels") or _NONE,
            annotations=meta.get("annotations") or _NONE,
            created=created,
            generation=int(meta.get("generation") or 0),
            resource_version=str(meta.get("resourceVersion") or ""),
            deleting=bool(meta.get("deletionTimestamp")),
        )

    @staticmethod
    def key_of(body: Mapping[str, Any]) -> tuple[str, str, str]:
        """The run's key without parsing the rest (a DELETED event's body, an item of a list)."""
        meta = body.get("metadata") or {}
        return (resource_for_kind(str(body.get("kind", ""))).plural, meta.get("namespace", ""), meta.get("name", ""))

    @property
    def name(self) -> str:
        return self.ref.name

    def queue_key(self) -> QueuedRun:
        """Its place in the queue, for `supertest.admission` (the single ordering policy): priority, then creation.
        Creation time has one-second resolution: the operator's own queuedAt (microseconds) breaks ties, then the
        name. A run not yet marked Queued is stamped queuedAt when it is admitted, so within its creation second it
        comes after the runs already marked ("~" sorts after any timestamp), as its queuedAt will say."""
        tiebreak = f"{self.status.queued_at or '~'}|{self.ref.namespace}/{self.ref.resource.plural}/{self.name}"
        return QueuedRun(run_id=tiebreak, queued_at=self.created, priority=self.priority)

    @property
    def timeout_seconds(self) -> int | None:
        """spec.timeoutSeconds, read without parsing the spec (a cached view has no script to validate)."""
        raw = self.spec.get("timeoutSeconds")
        return int(raw) if raw else None

    @property
    def phase(self) -> Phase | None:
        return self.status.phase

    @property
    def cancel_requested(self) -> bool:
        return bool(self.spec.get("cancel"))

    @property
    def priority(self) -> int:
        return int(self.spec.get("priority") or 0)

    @property
    def retries(self) -> int:
        return int(self.spec.get("retries") or 0)

    @property
    def trigger(self) -> str:
        """Runs created by the API carry a trigger label; anything else came through kubectl (or GitOps)."""
        return self.labels.get(LABEL_TRIGGER, "kubectl")

    @property
    def title(self) -> str:
        return self.annotations.get(ANNOTATION_TITLE, self.name)[:200]
