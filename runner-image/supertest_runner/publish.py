"""Where run events go: Redis (the pod), the parent's stdout (local mode), or a readable console."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Protocol, TextIO

from supertest.events import EventType, RunEvent, encode_stdout_event
from supertest.settings import RunnerSettings

if TYPE_CHECKING:
    from supertest.bus import EventBus

# A slow or unreachable Redis must not stall the run: an event that cannot be sent in time is dropped.
PUBLISH_TIMEOUT_SECONDS = 5.0


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


class BusSink:
    """Redis Streams; log lines are echoed to stdout too, so `kubectl logs` shows the run."""

    def __init__(self, bus: EventBus, echo: TextIO = sys.stdout) -> None:
        self._bus = bus
        self._echo = echo
        self._failures = 0

    async def publish(self, event: RunEvent) -> None:
        _write(self._echo, _human(event))
        try:
            await asyncio.wait_for(self._bus.publish(event), PUBLISH_TIMEOUT_SECONDS)
        except Exception as exc:
            self._failures += 1
            if self._failures == 1 or event.type is not EventType.LOG:
                print(f"supertest-runner: could not publish a {event.type} event: {exc!r}", file=sys.stderr, flush=True)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self._bus.close(), PUBLISH_TIMEOUT_SECONDS)
        except Exception as exc:
            print(f"supertest-runner: closing the event bus failed: {exc!r}", file=sys.stderr, flush=True)


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
    if settings.events_to_stdout:
        return StdoutSink()
    if settings.redis_url:
        # Imported here: redis.asyncio costs about 0.3 s of start-up that local mode does not need.
        from supertest.bus import create_bus

        return BusSink(create_bus(settings))
    return ConsoleSink()
