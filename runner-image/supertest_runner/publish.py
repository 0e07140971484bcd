"""Where run events go: the API's ingest endpoint (a run pod), Redis (a developer's runner), the parent's stdout
(local mode), or a readable console."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TextIO

from supertest.events import EventType, RunEvent, encode_stdout_event, log_event
from supertest.settings import RunnerSettings

if TYPE_CHECKING:
    from supertest.bus import EventBus

# Bounds on what an unreachable bus can cost the run: each send waits at most SEND_TIMEOUT_SECONDS; after
# BREAKER_THRESHOLD failures in a row the breaker opens and events are dropped at once for BREAKER_OPEN_SECONDS;
# at the end, what is still queued gets DRAIN_SECONDS in all (so a black-holed Redis adds ~2 s, not 5 s a line).
SEND_TIMEOUT_SECONDS = 1.0
BREAKER_THRESHOLD = 2
BREAKER_OPEN_SECONDS = 10.0
DRAIN_SECONDS = 1.0
CLOSE_TIMEOUT_SECONDS = 0.5
# Events per send: one HTTP request (or Redis round trip each) carries what queued up meanwhile.
BATCH_SIZE = 100


class EventSink(Protocol):
    async def publish(self, event: RunEvent) -> None: ...

    async def close(self) -> None: ...


class StdoutSink:
    """Local mode: one prefixed JSON line per event, flushed, for the parent process to relay."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self._out = out

    async def publish(self, event: RunEvent) -> None:
        _write(self._out, encode_stdout_event(event))

    async def close(self) -> None:
        _write(self._out, None)


class ConsoleSink:
    """No bus configured (a developer running the runner by hand): plain lines."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self._out = out

    async def publish(self, event: RunEvent) -> None:
        _write(self._out, _human(event))

    async def close(self) -> None:
        _write(self._out, None)


class Transport(Protocol):
    """Sends a batch of events somewhere (the API's ingest endpoint, or Redis); raises when it cannot."""

    async def send(self, events: list[RunEvent]) -> None: ...

    async def close(self) -> None: ...


class BusTransport:
    """Redis Streams directly: a developer's runner with REDIS_URL (a run pod uses the ingest endpoint)."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def send(self, events: list[RunEvent]) -> None:
        for event in events:
            await self._bus.publish(event)

    async def close(self) -> None:
        await self._bus.close()


class QueuedSink:
    """A bounded queue and one sender task, so publishing never waits on the transport; log lines are echoed to
    stdout too, so `kubectl logs` shows the run. Events that cannot go (queue full, breaker open, send failed)
    are dropped, counted and said on stderr."""

    def __init__(
        self,
        transport: Transport,
        queue_size: int = 1000,
        echo: TextIO = sys.stdout,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._echo = echo
        self._clock = clock
        self._queue: asyncio.Queue[RunEvent] = asyncio.Queue(maxsize=queue_size)
        self._sender: asyncio.Task[None] | None = None
        self._consecutive_failures = 0
        self._open_until = 0.0
        self.dropped = 0

    async def publish(self, event: RunEvent) -> None:
        _write(self._echo, _human(event))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_forever(), name="supertest-publish")
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._drop([event], "the publish queue is full")

    async def _send_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH_SIZE and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._send(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _send(self, batch: list[RunEvent]) -> None:
        if self._clock() < self._open_until:
            self._drop(batch, "the event destination is unreachable (circuit open)")
            return
        try:
            await asyncio.wait_for(self._transport.send(batch), SEND_TIMEOUT_SECONDS)
        except asyncio.CancelledError:
            self.dropped += len(batch)  # in flight when close() gave up on the destination
            raise
        except Exception as exc:
            self._consecutive_failures += 1
            if self._consecutive_failures >= BREAKER_THRESHOLD:
                self._open_until = self._clock() + BREAKER_OPEN_SECONDS
            self._drop(batch, repr(exc))
        else:
            self._consecutive_failures = 0

    def _drop(self, batch: list[RunEvent], why: str) -> None:
        first = self.dropped == 0
        self.dropped += len(batch)
        for event in batch:
            if first or event.type is not EventType.LOG:
                print(f"supertest-runner: dropped a {event.type} event: {why}", file=sys.stderr, flush=True)
                first = False

    async def close(self) -> None:
        if self._sender is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), DRAIN_SECONDS)
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self.dropped += self._queue.qsize()
        if self.dropped:
            print(f"supertest-runner: {self.dropped} events were not published", file=sys.stderr, flush=True)
        try:
            await asyncio.wait_for(self._transport.close(), CLOSE_TIMEOUT_SECONDS)
        except Exception as exc:
            print(f"supertest-runner: closing the event destination failed: {exc!r}", file=sys.stderr, flush=True)


class CappedSink:
    """At most `max_events` per run on the live view: past the cap log lines are dropped and counted; status and
    result events still go, after one "N events dropped" note."""

    def __init__(self, inner: EventSink, run_id: str, max_events: int) -> None:
        self._inner = inner
        self._run_id = run_id
        self._max = max_events
        self._sent = 0
        self._dropped = 0
        self._noted = 0

    async def publish(self, event: RunEvent) -> None:
        if event.type is EventType.LOG and self._sent >= self._max:
            self._dropped += 1
            return
        await self._note()
        self._sent += 1
        await self._inner.publish(event)

    async def _note(self) -> None:
        if self._dropped > self._noted:
            self._noted = self._dropped
            note = f"[supertest] {self._dropped} events dropped: this run's event limit is {self._max}"
            await self._inner.publish(log_event(self._run_id, note, "runner"))

    async def close(self) -> None:
        await self._note()
        await self._inner.close()


def _write(out: TextIO, line: str | None) -> None:
    """The reader may be gone (a parent that died closes the pipe); the run still finishes and uploads."""
    try:
        if line is not None:
            out.write(line + "\n")
        out.flush()
    except (OSError, ValueError):
        pass


def _human(event: RunEvent) -> str:
    if event.type is EventType.LOG:
        return event.line or ""
    if event.type is EventType.STATUS:
        return f"[supertest] {event.phase}" + (f": {event.message}" if event.message else "")
    summary = event.summary.model_dump_json(by_alias=True) if event.summary else "{}"
    return f"[supertest] result {summary} report={event.report_url} exit={event.exit_code}"


def create_sink(settings: RunnerSettings) -> EventSink:
    return CappedSink(_destination(settings), settings.run_id, settings.max_events)


def _destination(settings: RunnerSettings) -> EventSink:
    if settings.events_to_stdout:
        return StdoutSink()
    if settings.ingest_url:
        from supertest_runner.ingest import IngestTarget, IngestTransport

        return QueuedSink(IngestTransport(IngestTarget(settings)), settings.publish_queue_size)
    if settings.redis_url:
        # Imported here: redis.asyncio costs about 0.3 s of start-up that local mode does not need.
        from supertest.bus import create_bus

        return QueuedSink(BusTransport(create_bus(settings)), settings.publish_queue_size)
    return ConsoleSink()
