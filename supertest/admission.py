"""Admission policy as pure functions, shared by the local dispatcher and the operator."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class QueuedRun:
    run_id: str
    queued_at: datetime
    priority: int = 0


class QueueFull(Exception):
    """Raised when a new run would exceed the queued capacity."""

    def __init__(self, queued: int, capacity: int) -> None:
        super().__init__(
            f"queue is full: {queued} runs are waiting and QUEUED_CAPACITY is {capacity}; "
            "retry when running work has drained"
        )
        self.queued = queued
        self.capacity = capacity


def queue_has_room(queued: int, queued_capacity: int) -> bool:
    return queued < queued_capacity


def check_queue_capacity(queued: int, queued_capacity: int) -> None:
    if not queue_has_room(queued, queued_capacity):
        raise QueueFull(queued, queued_capacity)


def admission_order(queued: Iterable[QueuedRun]) -> list[QueuedRun]:
    """Higher priority first, then FIFO by queue time; the run id breaks exact ties stably."""
    return sorted(queued, key=lambda r: (-r.priority, r.queued_at, r.run_id))


def select_to_admit(queued: Sequence[QueuedRun], running: int, running_capacity: int) -> list[QueuedRun]:
    """The runs to start now: never more than the free running slots."""
    free = max(0, running_capacity - running)
    return admission_order(queued)[:free]
