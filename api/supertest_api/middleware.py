"""Pure ASGI middleware (no BaseHTTPMiddleware, so SSE and file streams pass straight through)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from supertest_api.errors import error_body
from supertest_api.metrics.schemas import UNMATCHED_ROUTE
from supertest_api.metrics.service import ApiMetrics

log = structlog.get_logger("supertest.api.http")


class RequestLogMiddleware:
    """One log line and one metrics sample per request, labelled by route template (bounded cardinality)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        streaming = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", []))
                streaming = headers.get(b"content-type", b"").startswith(b"text/event-stream")
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self._record(scope, status, time.perf_counter() - started, streaming)

    def _record(self, scope: Scope, status: int, elapsed: float, streaming: bool) -> None:
        route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
        method = scope["method"]
        self.metrics.requests.labels(method=method, route=route, status=str(status)).inc()
        if not streaming:  # an SSE stream's lifetime is not a latency
            self.metrics.latency.labels(method=method, route=route).observe(elapsed)
        state: dict[str, Any] = scope.get("state") or {}
        principal = state.get("principal")
        fields: dict[str, Any] = {
            "method": method,
            "path": scope["path"],
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 1),
        }
        if state.get("run_id"):
            fields["run_id"] = state["run_id"]
        if principal is not None:
            fields["key"] = getattr(principal, "key_prefix", None)
        log.info("request", **fields)


class _BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    """413 for bodies over a hard cap: from Content-Length before reading, and while streaming chunked bodies."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: Callable[[str], int | None] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # A path's own, larger cap (a run's artifact uploads are files, not JSON); the route enforces it too.
        self.larger = larger

    def _limit(self, path: str) -> int:
        own = self.larger(path) if self.larger is not None else None
        return self.max_bytes if own is None else own

    async def _reject(self, scope: Scope, send: Send, limit: int) -> None:
        state = scope.setdefault("state", {})
        state["rejected"] = "too_large"
        app = scope.get("app")
        metrics = getattr(getattr(app, "state", None), "metrics", None)
        if metrics is not None:
            metrics.rejections.labels(reason="too_large").inc()
        body = json.dumps(
            error_body(
                "payload_too_large",
                f"request body is larger than the {limit} byte limit",
                {"limit": limit},
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is None and b"transfer-encoding" not in headers:
            # No body (a GET, an SSE stream): nothing to limit, so no wrapper on every chunk of the response.
            await self.app(scope, receive, send)
            return
        limit = self._limit(str(scope.get("path", "")))
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = False  # the server rejects malformed lengths itself
            if too_large:
                await self._reject(scope, send, limit)
                return

        received = 0
        started = False
        rejected = False

        async def limited_receive() -> Message:
            nonlocal received, rejected
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started:
                        await self._reject(scope, send, limit)
                    rejected = True
                    # The app sees a disconnect and stops reading; whatever it answers is dropped below.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)
