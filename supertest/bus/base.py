from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from supertest.events import RunEvent


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
