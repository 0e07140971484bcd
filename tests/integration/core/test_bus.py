from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from supertest.bus import RedisEventBus, create_bus
from supertest.events import log_event, status_event
from supertest.phases import Phase
from supertest.settings import CoreSettings


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


async def test_a_late_subscriber_to_a_followed_stream_gets_its_history_then_live(bus):
    early: asyncio.Queue[str] = asyncio.Queue()
    late: asyncio.Queue[str] = asyncio.Queue()

    async def pump(queue: asyncio.Queue[str]) -> None:
        async for stored in bus.subscribe("tr-bus5"):
            await queue.put(stored.event.line or "")

    first = asyncio.create_task(pump(early))
    await bus.publish(log_event("tr-bus5", "a"))
    assert await asyncio.wait_for(early.get(), timeout=10) == "a"
    await bus.publish(log_event("tr-bus5", "b"))
    second = asyncio.create_task(pump(late))  # joins a stream the first subscription already follows
    assert await asyncio.wait_for(late.get(), timeout=10) == "a"
    assert await asyncio.wait_for(late.get(), timeout=10) == "b"
    await bus.publish(log_event("tr-bus5", "c"))
    assert [await asyncio.wait_for(early.get(), timeout=10) for _ in range(2)] == ["b", "c"]
    assert await asyncio.wait_for(late.get(), timeout=10) == "c"
    assert early.empty() and late.empty()
    first.cancel()
    second.cancel()


# -- Redis only: the shared reader and its timeouts ----------------------------------------------------------


def _settings(redis_url: str, **values: object) -> CoreSettings:
    return CoreSettings(REDIS_URL=redis_url, **values)  # type: ignore[arg-type]


async def _clients_named(redis_url: str, name: str) -> int:
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        return sum(1 for c in await client.client_list() if c.get("name") == name)
    finally:
        await client.aclose()


async def test_an_idle_subscriber_still_gets_the_next_event_after_30_seconds(redis_url):
    """The production timeouts (XREAD BLOCK 5 s, socket timeout 5 s): a quiet run must not lose its viewers."""
    bus = create_bus(_settings(redis_url))
    received: asyncio.Queue[str] = asyncio.Queue()

    async def pump() -> None:
        async for stored in bus.subscribe("tr-idle1"):
            await received.put(stored.event.line or "")

    task = asyncio.create_task(pump())
    try:
        await bus.publish(log_event("tr-idle1", "before the quiet spell"))
        assert await asyncio.wait_for(received.get(), timeout=10) == "before the quiet spell"
        # 30 s with nothing published: six XREAD BLOCKs end empty; nothing may arrive, and nothing may break.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(received.get(), timeout=30)
        assert not task.done(), f"the subscription ended while idle: {task}"
        await bus.publish(log_event("tr-idle1", "after the quiet spell"))
        assert await asyncio.wait_for(received.get(), timeout=10) == "after the quiet spell"
    finally:
        task.cancel()
        await bus.close()


async def test_three_hundred_subscribers_share_one_reader_and_leave_the_pool_free(redis_url):
    bus = RedisEventBus(redis_url, block_ms=1000, max_connections=4, socket_timeout=5)
    runs = [f"tr-fan{i}" for i in range(30)]
    got: dict[int, list[str]] = {i: [] for i in range(300)}
    done = asyncio.Event()

    async def follow(i: int) -> None:
        async for stored in bus.subscribe(runs[i % len(runs)]):
            got[i].append(stored.event.line or str(stored.event.phase))
            if stored.event.is_terminal_status:
                break
        if all(v and v[-1] == "Passed" for v in got.values()):
            done.set()

    for run in runs:
        await bus.publish(log_event(run, "history"))
    before = await _clients_named(redis_url, "supertest")
    tasks = [asyncio.create_task(follow(i)) for i in range(300)]
    try:
        # Every subscriber replays the history while the request path keeps working on a pool of 4.
        deadline = asyncio.get_running_loop().time() + 30
        while not all(got.values()):
            assert asyncio.get_running_loop().time() < deadline, "not every subscriber got its history"
            assert len(await bus.history(runs[0])) == 1  # the request path is never starved
            await asyncio.sleep(0.02)  # the poll interval of a deadline-bounded wait
        assert await _clients_named(redis_url, "supertest-reader") >= 1
        assert await _clients_named(redis_url, "supertest") - before <= 4
        for run in runs:
            await bus.publish(status_event(run, Phase.PASSED))
        await asyncio.wait_for(done.wait(), timeout=30)
        assert all(v == ["history", "Passed"] for v in got.values())
    finally:
        for task in tasks:
            task.cancel()
        await bus.close()


async def test_a_subscriber_that_falls_behind_catches_up_without_gaps(redis_url):
    bus = RedisEventBus(redis_url, maxlen=10_000, block_ms=1000)
    subscription = bus.subscribe("tr-lag1")
    try:
        await bus.publish(log_event("tr-lag1", "0"))
        assert (await asyncio.wait_for(anext(subscription), timeout=10)).event.line == "0"
        for i in range(1, 2500):  # more than a subscriber's queue holds, while it reads nothing
            await bus.publish(log_event("tr-lag1", str(i)))
        lines = [(await asyncio.wait_for(anext(subscription), timeout=10)).event.line for _ in range(1, 2500)]
        assert lines == [str(i) for i in range(1, 2500)]
    finally:
        await subscription.aclose()
        await bus.close()
