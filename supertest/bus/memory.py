"""In-process bus for local mode: per-run bounded logs plus condition-variable wake-ups."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator

from supertest.bus.base import StoredEvent
from supertest.events import RunEvent


class MemoryEventBus:
    def __init__(self, maxlen: int = 1000) -> None:
        self._maxlen = maxlen
        self._streams: dict[str, deque[StoredEvent]] = {}
        self._conditions: dict[str, asyncio.Condition] = {}
        # Ids are monotonic across the bus, in Redis's "ms-seq" shape so clients treat both alike.
        self._seq = itertools.count(1)

    def _condition(self, run_id: str) -> asyncio.Condition:
        cond = self._conditions.get(run_id)
        if cond is None:
            cond = self._conditions[run_id] = asyncio.Condition()
        return cond

    async def publish(self, event: RunEvent) -> str:
        stored = StoredEvent(id=f"0-{next(self._seq)}", event=event)
        stream = self._streams.setdefault(event.run_id, deque(maxlen=self._maxlen))
        stream.append(stored)
        cond = self._condition(event.run_id)
        async with cond:
            cond.notify_all()
        return stored.id

    async def history(self, run_id: str, after: str | None = None) -> list[StoredEvent]:
        floor = _seq_of(after)
        return [e for e in self._streams.get(run_id, ()) if _seq_of(e.id) > floor]

    async def subscribe(self, run_id: str, after: str | None = None) -> AsyncIterator[StoredEvent]:
        cursor = after
        cond = self._condition(run_id)
        while True:
            async with cond:
                pending = await self.history(run_id, cursor)
                if not pending:
                    await cond.wait()
                    continue
            for stored in pending:
                cursor = stored.id
                yield stored

    async def delete(self, run_id: str) -> None:
        self._streams.pop(run_id, None)

    async def close(self) -> None:
        self._streams.clear()


def _seq_of(event_id: str | None) -> int:
    if not event_id:
        return 0
    try:
        return int(event_id.rsplit("-", 1)[-1])
    except ValueError:
        return 0
