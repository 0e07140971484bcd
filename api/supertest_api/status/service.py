"""Live run status: replay from the bus after a Last-Event-ID, then follow until a terminal status.

The run row is the fallback truth. If the bus has nothing (an API restart with the in-process bus,
or an expired stream), the client first gets a status event with the row's phase; and if the row
turns terminal without a terminal event ever reaching the bus, the stream still ends.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from supertest.bus.base import EventBus
from supertest.db import runs as run_repo
from supertest.db.engine import in_session
from supertest.phases import Phase
from supertest_api.errors import BadRequest, NotFoundError
from supertest_api.status.hub import HubRegistry, Write, follow

_EVENT_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
# How often an idle stream re-reads the run row, and how long a terminal row waits for its event.
RECHECK_SECONDS = 10.0
TERMINAL_GRACE_SECONDS = 2.0


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


def hubs_of(state: Any, bus: EventBus) -> HubRegistry:
    """The process's hub registry (on the app's state), bound to the bus the lifespan built."""
    hubs: HubRegistry | None = getattr(state, "status_hubs", None)
    if hubs is None or hubs.bus is not bus:
        hubs = state.status_hubs = HubRegistry(bus)
    return hubs


def event_stream(
    run_id: str,
    after: str | None,
    initial: Phase,
    hubs: HubRegistry,
    factory: sessionmaker[Session],
    recheck: float | None = None,
    grace: float | None = None,
) -> Callable[[Write], Awaitable[None]]:
    """A viewer's SSE stream, to be written into its response: through the run's shared hub, which reads the bus
    and the row once for all viewers."""

    def stream(write: Write) -> Awaitable[None]:
        return follow(
            hubs,
            run_id,
            lambda: current_phase(factory, run_id),
            after,
            initial,
            write,
            recheck=RECHECK_SECONDS if recheck is None else recheck,
            grace=TERMINAL_GRACE_SECONDS if grace is None else grace,
        )

    return stream
