"""Live run status: replay from the bus after a Last-Event-ID, then follow until a terminal status.

The run row is the fallback truth. If the bus has nothing (an API restart with the in-process bus,
or an expired stream), the client first gets a status event with the row's phase; and if the row
turns terminal without a terminal event ever reaching the bus, the stream still ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

from sqlalchemy.orm import Session, sessionmaker
from sse_starlette import ServerSentEvent

from supertest.bus.base import BusUnavailable, EventBus, StoredEvent
from supertest.db import runs as run_repo
from supertest.db.engine import in_session
from supertest.events import RunEvent, status_event
from supertest.phases import Phase
from supertest_api.errors import BadRequest, NotFoundError

_EVENT_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
# How often an idle stream re-reads the run row, and how long a terminal row waits for its event.
RECHECK_SECONDS = 10.0
TERMINAL_GRACE_SECONDS = 2.0
CLIENT_RETRY_MS = 3000


def check_last_event_id(header: str | None, query: str | None) -> str | None:
    value = (header or query or "").strip() or None
    if value is not None and not _EVENT_ID.match(value):
        raise BadRequest(f"Last-Event-ID {value!r} is not an event id (expected '<ms>-<seq>')")
    return value


async def current_phase(factory: sessionmaker[Session], run_id: str) -> Phase:
    try:
        return await in_session(factory, lambda s: Phase(run_repo.get(s, run_id).phase))
    except run_repo.RunNotFound as exc:
        raise NotFoundError(str(exc)) from exc


def _sse(event: RunEvent, event_id: str | None) -> ServerSentEvent:
    return ServerSentEvent(data=event.to_json(), event=event.type.value, id=event_id, retry=CLIENT_RETRY_MS)


def _from_row(run_id: str, phase: Phase) -> ServerSentEvent:
    return _sse(status_event(run_id, phase, "current phase from the run history"), None)


async def _pump(source: AsyncIterator[StoredEvent], queue: asyncio.Queue[StoredEvent]) -> None:
    async for stored in source:
        await queue.put(stored)


async def _has_history(bus: EventBus, run_id: str) -> bool:
    try:
        return bool(await bus.history(run_id))
    except BusUnavailable:  # the row's phase stands in, and the subscription catches up once the bus is back
        return False


async def event_stream(
    run_id: str,
    after: str | None,
    initial: Phase,
    bus: EventBus,
    factory: sessionmaker[Session],
    recheck: float | None = None,
    grace: float | None = None,
) -> AsyncIterator[ServerSentEvent]:
    recheck = RECHECK_SECONDS if recheck is None else recheck
    grace = TERMINAL_GRACE_SECONDS if grace is None else grace
    if after is None and not await _has_history(bus, run_id):
        yield _from_row(run_id, initial)
        if initial.is_terminal:
            return

    loop = asyncio.get_running_loop()
    # A queue between the subscription and us: waiting on queue.get() with a timeout is safe to
    # cancel, whereas cancelling the subscription's own __anext__ would end the generator.
    queue: asyncio.Queue[StoredEvent] = asyncio.Queue(maxsize=1000)
    pump = asyncio.create_task(_pump(bus.subscribe(run_id, after), queue), name=f"sse-{run_id}")
    phase = initial
    deadline = loop.time() + grace if initial.is_terminal else None
    try:
        while True:
            timeout = recheck if deadline is None else max(0.0, deadline - loop.time())
            try:
                stored = await asyncio.wait_for(queue.get(), timeout=timeout)
            except TimeoutError:
                if deadline is not None:
                    yield _from_row(run_id, phase)
                    return
                phase = await current_phase(factory, run_id)
                if phase.is_terminal:
                    deadline = loop.time() + grace
                continue
            yield _sse(stored.event, stored.id)
            if stored.event.is_terminal_status:
                return
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
