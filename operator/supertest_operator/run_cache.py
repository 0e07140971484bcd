"""Every TestRun/JobRun the operator watches, in memory and slim: what the reconcile pass needs, no scripts.

Why: listing every run on every pass cost O(queue) per pass in parsing (and the apiserver's CPU on the same
machine), and the list response dominated the operator's peak RSS at depth. The pass now reads this cache, and
fetches the full body (GET) only of the runs it admits.

How it stays exact:
  - it is filled by a full, paged list at start-up and again every RUN_RESYNC_SECONDS (and whenever this replica
    becomes leader), slimmed page by page;
  - between lists it is fed by the watch events kopf delivers (`observe`, `forget`) and by our own status writes
    (the status writer observes the body each patch returns), before the admission lock is released. Every change
    that can add a running run is such a write, so a pass never undercounts what holds a slot;
  - an event older than what is held (a lower resourceVersion of the same object) is ignored, so a late event
    cannot undo our own write; a run deleted while a resync list was being read is not brought back by it.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sortedcontainers import SortedList

from supertest.admission import order_key
from supertest.kube.counting import is_waiting
from supertest.phases import Phase
from supertest_operator.run import RunView

RunKey = tuple[str, str, str]  # (plural, namespace, name)
Order = tuple[int, datetime, str]  # supertest.admission.order_key
# kubectl apply keeps a copy of the whole object (script included) in this annotation.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# A run finished for good (no retry pending) is only read for its TTL, its capacity (none) and its pods' owner:
# the rest of its status (conditions, summary, failures) is most of a finished run's parsed size.
FINISHED_STATUS = ("phase", "completionTime", "podName", "attempts", "queuedAt")
FINISHED_PHASES = frozenset(p.value for p in Phase if p.is_terminal)
KEPT_METADATA = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "generation",
    "labels",
)


def version(resource_version: object) -> int:
    """The resourceVersion as a number; 0 if it is not one (it is opaque by contract): then always accepted."""
    text = str(resource_version or "")
    return int(text) if text.isdigit() else 0


def slim(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body without what the reconcile pass never reads: inline scripts, managedFields, kubectl's copy, and a
    finished run's conditions and results."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    if status.get("phase") in FINISHED_PHASES and not status.get("retryAt"):
        status = {k: status[k] for k in FINISHED_STATUS if k in status}
    kept: dict[str, Any] = {k: meta[k] for k in KEPT_METADATA if k in meta}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    if annotations:
        kept["annotations"] = annotations
    spec = {k: v for k, v in (body.get("spec") or {}).items() if k != "script"}
    tests = spec.get("tests")
    if isinstance(tests, list):
        spec["tests"] = [{k: v for k, v in t.items() if k != "script"} if isinstance(t, dict) else t for t in tests]
    return {"kind": body.get("kind"), "metadata": kept, "spec": spec, "status": status}


@dataclass(slots=True)
class Entry:
    view: RunView  # of the slim body: never parse its spec for scripts
    # No body: every run is read through its view alone (admission writes on the view; the status writer answers
    # with the whole run). The raw status next to the parsed one was a fifth of a finished run's entry.
    waiting: bool
    rv: int
    problem: str | None  # why its spec cannot run (checked on the full body while it had no phase)


class RunCache:
    def __init__(self, check: Callable[[RunView], str | None]) -> None:
        self._check = check  # admission.spec_problem, on the full body
        self._entries: dict[RunKey, Entry] = {}
        # Kept in step with _entries, so that a pass copies them at C speed and loops only over the few it needs.
        self._views: dict[RunKey, RunView] = {}
        # The waiting runs in admission order (supertest.admission.order_key), and each one's place: a pass reads
        # the head it can admit, O(admitted) instead of ordering the whole queue every time.
        self._queue: SortedList[tuple[Order, RunKey]] = SortedList()
        self._waiting: dict[RunKey, Order] = {}
        self._phaseless: set[RunKey] = set()  # waiting, and not marked Queued yet
        self._busy: set[RunKey] = set()  # neither waiting nor finished for good: the per-pass sweeps' share
        self._listing = False
        self._gone: dict[RunKey, str] = {}  # deleted while a list was being read: key -> uid
        self._listed: dict[RunKey, Entry] = {}
        self.synced = False
        self.synced_at = 0.0  # time.monotonic() of the last full list

    def __len__(self) -> int:
        return len(self._entries)

    # --- reading ---------------------------------------------------------------------------------------------------
    def views(self) -> list[RunView]:
        return list(self._views.values())

    def by_key(self) -> dict[RunKey, RunView]:
        return dict(self._views)

    def waiting_keys(self) -> list[RunKey]:
        return list(self._waiting)

    def busy_keys(self) -> list[RunKey]:
        return list(self._busy)

    def view(self, key: RunKey, uid: str = "") -> RunView | None:
        """The slim view of a run (of this uid, when given); None if the cache does not hold it."""
        entry = self._entries.get(key)
        if entry is None or (uid and entry.view.ref.uid != uid):
            return None
        return entry.view

    def problem(self, key: RunKey) -> str | None:
        entry = self._entries.get(key)
        return entry.problem if entry is not None else None

    def queue_head(self, count: int, skip: Container[RunKey] = ()) -> list[RunView]:
        """The first `count` waiting runs in admission order, but those in `skip`."""
        head: list[RunView] = []
        for _, key in self._queue:
            if len(head) >= count:
                break
            if key not in skip:
                head.append(self._views[key])
        return head

    def unmarked(self, count: int, skip: Container[RunKey] = ()) -> list[RunView]:
        """The first `count` waiting runs in admission order that have no phase yet (not marked Queued), but
        those in `skip` and those being deleted (which do not wait)."""
        keys = (k for k in self._phaseless if k not in skip)
        return [self._views[k] for k in heapq.nsmallest(count, keys, key=self._waiting.__getitem__)]

    def waiting_count(self) -> int:
        return len(self._waiting)

    def is_waiting(self, key: RunKey) -> bool:
        return key in self._waiting

    def waiting_names(self) -> set[tuple[str, str]]:
        """(namespace, name) of every run that waits for admission (the queued-capacity webhook's count)."""
        return {(k[1], k[2]) for k in self._waiting}

    # --- feeding ---------------------------------------------------------------------------------------------------
    def _entry(self, body: Mapping[str, Any]) -> Entry:
        small = slim(body)
        view = RunView.from_body(small)
        # A run with no phase yet is checked once, on its full spec (the slim one has no script to check).
        problem = self._check(RunView.from_body(body)) if view.phase is None else None
        return Entry(view, is_waiting(small), version(view.resource_version), problem)

    def _store(self, entry: Entry) -> None:
        key, view = entry.view.ref.key, entry.view
        self._entries[key] = entry
        self._views[key] = view
        if entry.waiting:
            self._enqueue(key, order_key(view.queue_key()))
        else:
            self._dequeue(key)
        if entry.waiting and view.phase is None:
            self._phaseless.add(key)
        else:
            self._phaseless.discard(key)
        finished = view.phase is not None and view.phase.is_terminal and not view.status.retry_at
        if not entry.waiting and not finished:
            self._busy.add(key)
        else:
            self._busy.discard(key)

    def _enqueue(self, key: RunKey, order: Order) -> None:
        held = self._waiting.get(key)
        if held == order:
            return
        if held is not None:
            self._queue.discard((held, key))
        self._waiting[key] = order
        self._queue.add((order, key))

    def _dequeue(self, key: RunKey) -> None:
        held = self._waiting.pop(key, None)
        if held is not None:
            self._queue.discard((held, key))

    def _drop(self, key: RunKey) -> None:
        for table in (self._entries, self._views):
            table.pop(key, None)
        self._dequeue(key)
        self._phaseless.discard(key)
        self._busy.discard(key)

    def observe(self, body: Mapping[str, Any]) -> RunView | None:
        """A run as a watch event or one of our writes shows it; ignored (None) if older than what is held."""
        meta = body.get("metadata") or {}
        key = RunView.key_of(body)
        held = self._entries.get(key)
        rv = version(meta.get("resourceVersion"))
        if held is not None and held.view.ref.uid == meta.get("uid") and rv and held.rv and rv < held.rv:
            return None
        entry = self._entry(body)
        self._store(entry)
        return entry.view

    def forget(self, body: Mapping[str, Any]) -> None:
        """The run was deleted."""
        key = RunView.key_of(body)
        held = self._entries.get(key)
        uid = str((body.get("metadata") or {}).get("uid") or "")
        if held is not None and (not uid or held.view.ref.uid == uid):
            self._drop(key)
        if self._listing:
            self._gone[key] = uid

    def begin_list(self) -> None:
        self._listing = True
        self._gone = {}
        self._listed = {}

    def listed(self, body: Mapping[str, Any]) -> None:
        """One item of the full list (slimmed now: the list's bodies are dropped page by page)."""
        entry = self._entry(body)
        self._listed[entry.view.ref.key] = entry

    def finish_list(self, list_version: str) -> None:
        """Replace the content with the full list read since `begin_list` (at `list_version`). What was observed
        after the list's version is kept over the list's older copy; what was deleted meanwhile stays deleted."""
        at = version(list_version)
        fresh = {k: e for k, e in self._listed.items() if self._gone.get(k) not in ("", e.view.ref.uid)}
        for key, held in self._entries.items():
            listed = fresh.get(key)
            if at and held.rv > at and (listed is None or held.rv > listed.rv):
                fresh[key] = held  # created or changed after the list was read
        for key in list(self._entries):
            self._drop(key)
        for entry in fresh.values():
            self._store(entry)
        self.synced = True
        self.synced_at = time.monotonic()
        self.abort_list()

    def abort_list(self) -> None:
        self._listing = False
        self._gone = {}
        self._listed = {}


PodKey = tuple[str, str]  # (namespace, name)


def slim_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """What the pass reads of a run pod: its run (labels), whether it is live, its node, when it started."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    return {
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "labels", "resourceVersion") if k in meta},
        "spec": {"nodeName": (pod.get("spec") or {}).get("nodeName")},
        "status": {k: status[k] for k in ("phase", "startTime") if k in status},
    }


class PodCache:
    """The run pods, slim, fed like the run cache: kopf's pod events, the pods we create, the same full lists."""

    def __init__(self) -> None:
        self._pods: dict[PodKey, dict[str, Any]] = {}
        self._listed: dict[PodKey, dict[str, Any]] | None = None  # a full list being read
        self._gone: set[PodKey] = set()  # deleted while it was

    def pods(self) -> list[dict[str, Any]]:
        return list(self._pods.values())

    @staticmethod
    def _key(pod: Mapping[str, Any]) -> PodKey:
        meta = pod.get("metadata") or {}
        return (meta.get("namespace", ""), meta.get("name", ""))

    def observe(self, pod: Mapping[str, Any], deleted: bool = False) -> None:
        key = self._key(pod)
        if deleted:
            self._pods.pop(key, None)
            if self._listed is not None:
                self._gone.add(key)
            return
        held = self._pods.get(key)
        rv = version((pod.get("metadata") or {}).get("resourceVersion"))
        if held is not None and rv and rv < version(held["metadata"].get("resourceVersion")):
            return  # an older event than what we hold
        self._pods[key] = slim_pod(pod)

    def begin_list(self) -> None:
        self._listed, self._gone = {}, set()

    def listed(self, pod: Mapping[str, Any]) -> None:
        if self._listed is not None:
            self._listed[self._key(pod)] = slim_pod(pod)

    def finish_list(self, list_version: str) -> None:
        at, fresh = version(list_version), self._listed or {}
        fresh = {k: p for k, p in fresh.items() if k not in self._gone}
        for key, held in self._pods.items():
            rv = version(held["metadata"].get("resourceVersion"))
            if at and rv > at and rv > version((fresh.get(key) or {}).get("metadata", {}).get("resourceVersion")):
                fresh[key] = held  # created or changed after the list was read
        self._pods = fresh
        self.abort_list()

    def abort_list(self) -> None:
        self._listed, self._gone = None, set()
