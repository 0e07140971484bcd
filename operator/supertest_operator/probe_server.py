"""/healthz, /readyz and /metrics on one small aiohttp server (the probe port)."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from supertest_operator.context import OperatorContext

# Liveness fails when the reconcile loop has not completed a pass for this long.
STALL_SECONDS = 120.0


def make_app(ctx: OperatorContext) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        stalled = time.monotonic() - ctx.last_pass > max(STALL_SECONDS, 10 * ctx.settings.reconcile_interval_seconds)
        return web.Response(status=503 if stalled else 200, text="stalled\n" if stalled else "ok\n")

    async def readyz(_: web.Request) -> web.Response:
        return web.Response(status=200 if ctx.ready else 503, text="ready\n" if ctx.ready else "starting\n")

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(ctx: OperatorContext) -> web.AppRunner:
    runner = web.AppRunner(make_app(ctx), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, ctx.settings.probe_host, ctx.settings.probe_port)
    await site.start()
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    ctx.probe_port = sockets[0].getsockname()[1] if sockets else ctx.settings.probe_port
    return runner
