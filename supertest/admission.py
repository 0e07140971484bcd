"""Admission policy as pure functions, shared by the local dispatcher and the operator."""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class QueuedRun:
    run_id: str
    queued_at: datetime
    priority: int = 0


class QueueFull(Exception):
    """Raised when a new run would exceed the queued capacity.

    Its structured code is HTTP 429: the API answers with it and the operator's webhook denies with it, so a
    client (the API's own Kubernetes launcher among them) knows a full queue by the code, never by the words.
    """

    STATUS = 429
    _WIRE = re.compile(r"queue is full: (\d+) runs are waiting and QUEUED_CAPACITY is (\d+)")

    def __init__(self, queued: int, capacity: int) -> None:
        super().__init__(
            f"queue is full: {queued} runs are waiting and QUEUED_CAPACITY is {capacity}; "
            "retry when running work has drained"
        )
        self.queued = queued
        self.capacity = capacity

    @classmethod
    def from_refusal(cls, status: int, message: str) -> QueueFull | None:
        """A refusal with QueueFull's code as a QueueFull: the counts read back from the message written above
        (the webhook's response carries only a code and a message). Any other code is not a full queue."""
        if status != cls.STATUS:
            return None
        found = cls._WIRE.search(message)
        return cls(int(found.group(1)), int(found.group(2))) if found else None


def queue_has_room(queued: int, queued_capacity: int) -> bool:
    return queued < queued_capacity


def check_queue_capacity(queued: int, queued_capacity: int) -> None:
    if not queue_has_room(queued, queued_capacity):
        raise QueueFull(queued, queued_capacity)


def order_key(run: QueuedRun) -> tuple[int, datetime, str]:
    """Higher priority first, then FIFO by queue time; the run id breaks exact ties stably."""
    return (-run.priority, run.queued_at, run.run_id)


def admission_order(queued: Iterable[QueuedRun]) -> list[QueuedRun]:
    return sorted(queued, key=order_key)


def select_to_admit(queued: Sequence[QueuedRun], running: int, running_capacity: int) -> list[QueuedRun]:
    """The runs to start now: never more than the free running slots."""
    free = max(0, running_capacity - running)
    return admission_order(queued)[:free]


@dataclass(frozen=True, slots=True)
class Allotment:
    run: QueuedRun
    executions: int  # how many of the run's pending executions (shard pods) start now


def allot_executions(
    needs: Sequence[tuple[QueuedRun, int]], running_executions: int, running_capacity: int
) -> list[Allotment]:
    """Share the free slots between queued runs that each need `n` executions (a sharded run needs one per shard).

    Capacity counts executions (pods), not runs, so a run of 4 shards takes 4 slots. In admission order each run
    takes what it needs from what is free: the head of the queue may be admitted in part (2 of its 4 shards) and
    keeps its place, so it gets the next slots before any later run and always finishes. Never more than the free
    slots in total.
    """
    free = max(0, running_capacity - running_executions)
    need = {r.run_id: n for r, n in needs}
    out: list[Allotment] = []
    # Each run given anything takes at least one slot: only the first `free` runs that want one can get any, so
    # only those are ordered (O(n log free), not a sort of the whole queue on every pass).
    head = heapq.nsmallest(free, (r for r, n in needs if n > 0), key=order_key)
    for run in head:
        if free <= 0:
            break
        take = min(free, max(0, need[run.run_id]))
        if take:
            out.append(Allotment(run, take))
            free -= take
    return out
