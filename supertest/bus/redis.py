"""Redis Streams bus: one stream per run, trimmed with MAXLEN ~ and expired after a day."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import redis.asyncio as aioredis

from supertest.bus.base import StoredEvent
from supertest.events import RunEvent, stream_key

_FIELD = "event"


class RedisEventBus:
    def __init__(self, url: str, maxlen: int = 1000, ttl_seconds: int = 86_400, block_ms: int = 5_000) -> None:
        self._redis: aioredis.Redis = aioredis.from_url(url, decode_responses=True)
        self._maxlen = maxlen
        self._ttl = ttl_seconds
        self._block_ms = block_ms

    async def publish(self, event: RunEvent) -> str:
        key = stream_key(event.run_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(key, {_FIELD: event.to_json()}, maxlen=self._maxlen, approximate=True)
            pipe.expire(key, self._ttl)
            event_id, _ = await pipe.execute()
        return str(event_id)

    async def history(self, run_id: str, after: str | None = None) -> list[StoredEvent]:
        start = f"({after}" if after else "-"
        entries = cast(
            list[tuple[str, dict[str, str]]], await self._redis.xrange(stream_key(run_id), min=start, max="+")
        )
        return [_decode(entry_id, fields) for entry_id, fields in entries]

    async def subscribe(self, run_id: str, after: str | None = None) -> AsyncIterator[StoredEvent]:
        cursor = after or "0-0"
        key = stream_key(run_id)
        while True:
            # XREAD from the cursor both replays what was missed and blocks for new entries.
            response = cast(
                list[tuple[str, list[tuple[str, dict[str, str]]]]],
                await self._redis.xread({key: cursor}, block=self._block_ms, count=500),
            )
            for _stream, entries in response or []:
                for entry_id, fields in entries:
                    cursor = entry_id
                    yield _decode(entry_id, fields)

    async def delete(self, run_id: str) -> None:
        await self._redis.delete(stream_key(run_id))

    async def close(self) -> None:
        await self._redis.aclose()


def _decode(entry_id: Any, fields: dict[str, str]) -> StoredEvent:
    return StoredEvent(id=str(entry_id), event=RunEvent.from_json(fields[_FIELD]))
