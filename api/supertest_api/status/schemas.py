"""The SSE wire format: `id` is the bus id, `event` the RunEvent type, `data` the RunEvent JSON."""

from __future__ import annotations

from supertest.events import RunEvent

# Documented in OpenAPI as the shape of each event's `data`.
EventData = RunEvent

SSE_DESCRIPTION = (
    "Server-Sent Events. Each event has `id` (resume with the `Last-Event-ID` header or `?lastEventId=`), "
    "`event` (`status`, `log` or `result`) and `data` (a RunEvent as JSON). The stream closes after a terminal "
    "status event. Comment pings keep idle connections open."
)
