from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import structlog

from supertest.events import RunEvent

log = structlog.get_logger("supertest.bus")


class BusUnavailable(Exception):
    """The bus could not be reached in time (Redis down, frozen or refusing); the call did not happen."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event with the id the bus gave it; SSE sends the id so clients can resume."""

    id: str
    event: RunEvent


class EventBus(Protocol):
    async def publish(self, event: RunEvent) -> str:
        """Append the event to its run's stream and return the event id."""
        ...

    async def history(self, run_id: str, after: str | None = None) -> list[StoredEvent]:
        """Events already stored for the run, oldest first, strictly after `after` if given."""
        ...

    def subscribe(self, run_id: str, after: str | None = None) -> AsyncIterator[StoredEvent]:
        """Replay what is stored after `after`, then follow live events until the caller stops."""
        ...

    async def delete(self, run_id: str) -> None: ...

    async def close(self) -> None: ...


async def publish_or_warn(bus: EventBus, event: RunEvent) -> str | None:
    """Publish where the live view is a courtesy, not the truth: after a committed run row, or a runner's line.

    The run row is the source of a run's phase (SSE falls back to it), so an unreachable bus is logged and the
    caller goes on; the event id, or None when it was not stored.
    """
    try:
        return await bus.publish(event)
    except BusUnavailable as exc:
        log.warning("event_not_published", run_id=event.run_id, type=event.type.value, reason=str(exc))
        return None
