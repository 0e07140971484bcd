"""The live-status response: SSE chunks written straight to the server, one write per chunk.

A run's frames go to every viewer, so whatever a response does per chunk is paid a thousand times per frame with a
thousand viewers. This response does the least per chunk: it hands its stream a `write` that the stream (the SSE
hub) calls itself, with no iterator or task switch per chunk; no per-chunk encoding (the hub's frames are SSE bytes
already), no per-chunk timeout scope, and the chunks skip the per-request middlewares' `send` wrappers (request log,
error handler, exception handler). Those only need the response's start, which still goes through them, so the
request log records the status as for any other route. Keep-alive pings come from the hub, one shared frame for all
viewers, not a timer per response.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from supertest_api.status.hub import Write

# Where the application keeps the server's own `send` in a request's scope (see app.SupertestApi).
SERVER_SEND = "supertest.server_send"
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def remember_server_send(scope: Scope, send: Send) -> None:
    if scope["type"] == "http":
        scope[SERVER_SEND] = send


# A stream writes whole SSE events (bytes) with the write it is given, and returns when it is over.
Stream = Callable[[Write], Awaitable[None]]


async def _no_chunks() -> AsyncIterator[bytes]:
    return
    yield  # pragma: no cover - makes this an async generator


async def _awaited(awaitable: Awaitable[None]) -> None:
    await awaitable


class EventStreamResponse(StreamingResponse):
    """`text/event-stream` from a stream that writes whole SSE events; ends when it does or the client leaves."""

    # Given per instance, not as the class's media_type: FastAPI would take that for the route's JSON error
    # responses in the OpenAPI document too.
    def __init__(self, stream: Stream, headers: Mapping[str, str] | None = None) -> None:
        # A StreamingResponse (for the route's OpenAPI and FastAPI's response_class), whose body is the stream.
        super().__init__(_no_chunks(), headers={**STREAM_HEADERS, **(headers or {})}, media_type="text/event-stream")
        self.stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        server_send: Send = scope.get(SERVER_SEND) or send

        def write(chunk: bytes) -> Coroutine[Any, Any, None]:
            sent = server_send({"type": "http.response.body", "body": chunk, "more_body": True})
            # A coroutine (uvicorn's send is one) can be run at once by the hub; any other awaitable is wrapped.
            return sent if inspect.iscoroutine(sent) else _awaited(sent)

        async def pump() -> None:
            await self.stream(write)
            await server_send({"type": "http.response.body", "body": b"", "more_body": False})

        async def until_disconnect() -> None:
            # uvicorn's send to a closed connection returns quietly: the receive side is what says the client left.
            while (await receive())["type"] != "http.disconnect":
                pass

        async with anyio.create_task_group() as group:

            async def first_to_end(part: Any) -> None:
                await part()
                group.cancel_scope.cancel()

            group.start_soon(first_to_end, until_disconnect)
            await first_to_end(pump)
