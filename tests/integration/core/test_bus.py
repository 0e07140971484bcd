from __future__ import annotations

import asyncio

from supertest.events import log_event, status_event
from supertest.phases import Phase


async def test_history_and_replay_after_last_event_id(bus):
    ids = [await bus.publish(log_event("tr-bus1", f"line {i}")) for i in range(5)]
    history = await bus.history("tr-bus1")
    assert [e.event.line for e in history] == [f"line {i}" for i in range(5)]
    after = await bus.history("tr-bus1", after=ids[2])
    assert [e.event.line for e in after] == ["line 3", "line 4"]
    assert await bus.history("tr-other") == []


async def test_subscriber_replays_then_follows_live(bus):
    first = await bus.publish(log_event("tr-bus2", "before"))
    await bus.publish(log_event("tr-bus2", "missed"))
    received: list[str] = []

    async def consume() -> None:
        async for stored in bus.subscribe("tr-bus2", after=first):
            received.append(stored.event.line or stored.event.phase or "")
            if stored.event.is_terminal_status:
                return

    task = asyncio.create_task(consume())
    await bus.publish(log_event("tr-bus2", "live"))
    await bus.publish(status_event("tr-bus2", Phase.PASSED))
    await asyncio.wait_for(task, timeout=10)
    assert received == ["missed", "live", "Passed"]


async def test_streams_are_bounded(bus):
    for i in range(200):
        await bus.publish(log_event("tr-bus3", f"{i}"))
    history = await bus.history("tr-bus3")
    # MAXLEN ~ lets Redis keep a little more than the cap; never unbounded.
    assert 50 <= len(history) < 200
    assert history[-1].event.line == "199"


async def test_delete_removes_the_stream(bus):
    await bus.publish(log_event("tr-bus4", "x"))
    await bus.delete("tr-bus4")
    assert await bus.history("tr-bus4") == []


async def test_redis_stream_has_a_ttl(redis_url):
    import redis.asyncio as aioredis

    from supertest.bus import RedisEventBus

    bus = RedisEventBus(redis_url, ttl_seconds=3600)
    await bus.publish(log_event("tr-ttl1", "x"))
    client = aioredis.from_url(redis_url)
    ttl = await client.ttl("supertest:run:tr-ttl1:events")
    await client.aclose()
    await bus.close()
    assert 3500 < ttl <= 3600
