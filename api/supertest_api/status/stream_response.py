"""The live-status response: SSE chunks written straight to the server, one write per chunk.

A run's frames go to every viewer, so whatever a response does per chunk is paid a thousand times per frame with a
thousand viewers. This response does the least per chunk: no per-chunk encoding (the hub's frames are SSE bytes
already), no per-chunk timeout scope, and the chunks skip the per-request middlewares' `send` wrappers (request log,
error handler, exception handler). Those only need the response's start, which still goes through them, so the
request log records the status as for any other route. Keep-alive pings come from the hub, one shared frame for all
viewers, not a timer per response.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

# Where the application keeps the server's own `send` in a request's scope (see app.SupertestApi).
SERVER_SEND = "supertest.server_send"
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def remember_server_send(scope: Scope, send: Send) -> None:
    if scope["type"] == "http":
        scope[SERVER_SEND] = send


class EventStreamResponse(StreamingResponse):
    """`text/event-stream` from an iterator of whole SSE events (bytes); ends when it does or the client leaves."""

    # Given per instance, not as the class's media_type: FastAPI would take that for the route's JSON error
    # responses in the OpenAPI document too.
    def __init__(self, chunks: AsyncIterator[bytes], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(chunks, headers={**STREAM_HEADERS, **(headers or {})}, media_type="text/event-stream")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        write: Send = scope.get(SERVER_SEND) or send

        async def pump() -> None:
            async for chunk in self.body_iterator:
                await write({"type": "http.response.body", "body": chunk, "more_body": True})
            await write({"type": "http.response.body", "body": b"", "more_body": False})

        async def until_disconnect() -> None:
            # uvicorn's send to a closed connection returns quietly: the receive side is what says the client left.
            while (await receive())["type"] != "http.disconnect":
                pass

        try:
            async with anyio.create_task_group() as group:

                async def first_to_end(part: Any) -> None:
                    await part()
                    group.cancel_scope.cancel()

                group.start_soon(first_to_end, until_disconnect)
                await first_to_end(pump)
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:  # the viewer's stream releases its hub now, not when collected
                with anyio.CancelScope(shield=True):
                    await aclose()
