"""Which runs wait and which hold a slot, from raw objects; shared by the operator, its webhook and the API."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from supertest.phases import Phase

# A pod in one of these phases no longer runs anything.
POD_DONE_PHASES = frozenset({"Succeeded", "Failed"})


def run_phase(obj: Mapping[str, Any]) -> Phase | None:
    raw = (obj.get("status") or {}).get("phase")
    try:
        return Phase(raw) if raw else None
    except ValueError:
        return None


def is_waiting(obj: Mapping[str, Any]) -> bool:
    """Created but not admitted: no phase yet (the operator has not seen it) or Queued, and not cancelled."""
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return False
    if (obj.get("spec") or {}).get("cancel"):
        return False
    return run_phase(obj) in (None, Phase.QUEUED)


def count_waiting(objs: Iterable[Mapping[str, Any]]) -> int:
    return sum(1 for obj in objs if is_waiting(obj))


def pod_is_live(pod: Mapping[str, Any]) -> bool:
    """A pod holds its run's slot until it has finished, even while it is being deleted."""
    return (pod.get("status") or {}).get("phase") not in POD_DONE_PHASES
