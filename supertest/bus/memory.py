"""In-process bus for local mode: per-run bounded logs plus condition-variable wake-ups."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, deque
from collections.abc import AsyncIterator

from supertest.bus.base import StoredEvent
from supertest.events import RunEvent


class MemoryEventBus:
    def __init__(self, maxlen: int = 1000, linger_seconds: float | None = None) -> None:
        self._maxlen = maxlen
        # A run's stream is dropped this long after its terminal status (None: kept, as tests that replay need);
        # without it a long-lived `supertest dev` kept every finished run's events for ever.
        self._linger = linger_seconds
        self._streams: dict[str, deque[StoredEvent]] = {}
        self._conditions: dict[str, asyncio.Condition] = {}
        # Ids are monotonic across the bus, in Redis's "ms-seq" shape so clients treat both alike.
        self._seq = itertools.count(1)
        self._following: Counter[str] = Counter()

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
        if self._linger is not None and event.is_terminal_status:
            asyncio.get_running_loop().call_later(self._linger, self._drop_if_idle, event.run_id, stored.id)
        return stored.id

    def _drop_if_idle(self, run_id: str, last_id: str) -> None:
        stream = self._streams.get(run_id)
        if stream and stream[-1].id == last_id:  # nothing published since the terminal status
            del self._streams[run_id]
            if not self._following.get(run_id):  # a live subscriber keeps its condition
                self._conditions.pop(run_id, None)

    @property
    def stream_count(self) -> int:
        return len(self._streams)

    def followers(self, run_id: str) -> int:
        """Live subscriptions to the run (the API's SSE hub keeps it at one per process)."""
        return self._following[run_id]

    async def history(self, run_id: str, after: str | None = None) -> list[StoredEvent]:
        floor = _seq_of(after)
        # From the newest back to `after`: a follower woken for one new event reads one, not the whole stream.
        newer: list[StoredEvent] = []
        for stored in reversed(self._streams.get(run_id, ())):
            if _seq_of(stored.id) <= floor:
                break
            newer.append(stored)
        newer.reverse()
        return newer

    async def subscribe(self, run_id: str, after: str | None = None) -> AsyncIterator[StoredEvent]:
        cursor = after
        cond = self._condition(run_id)
        self._following[run_id] += 1
        try:
            while True:
                async with cond:
                    pending = await self.history(run_id, cursor)
                    if not pending:
                        await cond.wait()
                        continue
                for stored in pending:
                    cursor = stored.id
                    yield stored
        finally:
            self._following[run_id] -= 1
            if not self._following[run_id]:
                del self._following[run_id]

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
