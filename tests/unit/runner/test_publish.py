from __future__ import annotations

import asyncio
import time

from supertest_runner.publish import DRAIN_SECONDS, BusTransport, CappedSink, QueuedSink

from supertest.bus import MemoryEventBus
from supertest.events import EventType, RunEvent, log_event, status_event
from supertest.phases import Phase


class HangingBus(MemoryEventBus):
    """A black-holed Redis: every send waits for ever."""

    def __init__(self) -> None:
        super().__init__(maxlen=100)
        self.attempts = 0

    async def publish(self, event: RunEvent) -> str:
        self.attempts += 1
        await asyncio.Event().wait()
        return ""


class Recorder:
    def __init__(self) -> None:
        self.events: list[RunEvent] = []
        self.closed = False

    async def publish(self, event: RunEvent) -> None:
        self.events.append(event)

    async def close(self) -> None:
        self.closed = True


def test_a_black_holed_bus_never_slows_publishing_and_costs_at_most_the_drain_at_close() -> None:
    async def scenario() -> tuple[float, float, int, int]:
        bus = HangingBus()
        sink = QueuedSink(BusTransport(bus), queue_size=50)
        started = time.monotonic()
        for i in range(500):
            await sink.publish(log_event("r", f"line {i}"))
        publishing = time.monotonic() - started
        started = time.monotonic()
        await sink.close()
        return publishing, time.monotonic() - started, sink.dropped, bus.attempts

    publishing, closing, dropped, attempts = asyncio.run(scenario())
    assert publishing < 0.5
    assert closing < DRAIN_SECONDS + 1.0
    assert dropped == 500  # every event counted, none silently lost
    assert attempts <= 2  # the breaker opened after the threshold: no more waiting on the bus


def test_a_healthy_bus_gets_every_event_in_order() -> None:
    class KeepingBus(MemoryEventBus):
        async def close(self) -> None:  # keep the stream to read it after the sink closed
            pass

    async def scenario() -> list[str]:
        bus = KeepingBus(maxlen=1000)
        sink = QueuedSink(BusTransport(bus), queue_size=1000)
        for i in range(100):
            await sink.publish(log_event("r", f"line {i}"))
        await sink.close()
        assert sink.dropped == 0
        return [s.event.line or "" for s in await bus.history("r")]

    assert asyncio.run(scenario()) == [f"line {i}" for i in range(100)]


def test_the_event_cap_drops_log_lines_says_so_and_keeps_the_closing_events() -> None:
    async def scenario() -> Recorder:
        inner = Recorder()
        sink = CappedSink(inner, "r", max_events=10)
        for i in range(25):
            await sink.publish(log_event("r", f"line {i}"))
        await sink.publish(status_event("r", Phase.PASSED, "1 passed"))
        await sink.close()
        return inner

    inner = asyncio.run(scenario())
    lines = [e.line for e in inner.events if e.type is EventType.LOG]
    assert lines[:10] == [f"line {i}" for i in range(10)]
    assert lines[10] == "[supertest] 15 events dropped: this run's event limit is 10"
    assert inner.events[-1].type is EventType.STATUS and inner.events[-1].phase is Phase.PASSED
    assert inner.closed
