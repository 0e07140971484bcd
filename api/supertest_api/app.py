"""The FastAPI application factory and its lifespan (engine, bus, artifact stores, run launcher)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from supertest.artifacts import ArtifactStore, create_store
from supertest.bus import create_bus
from supertest.bus.base import EventBus
from supertest.crypto import load_secret_box
from supertest.db import runs as run_repo
from supertest.db.engine import make_engine, make_session_factory, session_scope
from supertest.db.migrate import current_revision, head_revision
from supertest.launch import RunLauncher
from supertest.local.scheduler import LocalScheduler
from supertest.logs import configure_logging
from supertest.notify.sender import OutboxSender
from supertest.settings import ApiSettings
from supertest_api.apidocs import service as apidocs_service
from supertest_api.apidocs.router import router as apidocs_router
from supertest_api.artifacts_origin.links import artifact_links
from supertest_api.auth.router import router as auth_router
from supertest_api.backends import build_launcher, build_testjob_cluster
from supertest_api.capacity.router import router as capacity_router
from supertest_api.catalog.router import router as tests_router
from supertest_api.errors import install_error_handlers
from supertest_api.health.router import router as health_router
from supertest_api.ingest import service as ingest_service
from supertest_api.ingest.router import router as ingest_router
from supertest_api.jobs.router import router as jobs_router
from supertest_api.keycache import KeyCache
from supertest_api.metrics.router import router as metrics_router
from supertest_api.metrics.server import MetricsServer
from supertest_api.metrics.service import ApiMetrics
from supertest_api.middleware import BodySizeLimitMiddleware, RequestLogMiddleware
from supertest_api.notifications.router import router as notifications_router
from supertest_api.params import reject_unstorable_params
from supertest_api.resources import AppResources
from supertest_api.results.router import router as results_router
from supertest_api.runs.router import router as runs_router
from supertest_api.session import SessionSigner, load_session_secret
from supertest_api.status.router import router as status_router
from supertest_api.status.stream_response import remember_server_send
from supertest_api.testhealth.router import router as testhealth_router
from supertest_api.ui.repository import STATIC_DIR
from supertest_api.ui.router import router as ui_router
from supertest_api.validation import MAX_BODY_BYTES
from supertest_api.variables.router import router as variables_router

log = structlog.get_logger("supertest.api")

OPENAPI_TAGS = [
    {"name": "runs", "description": "Submit tests and jobs, list, inspect and cancel runs"},
    {"name": "status", "description": "Live run status and logs over Server-Sent Events"},
    {"name": "results", "description": "Redirects to a run's report and files on the artifacts origin"},
    {"name": "tests", "description": "Stored tests"},
    {"name": "jobs", "description": "Stored jobs: ordered tests, optionally on a cron schedule"},
    {"name": "capacity", "description": "Running and queued capacity"},
    {"name": "notifications", "description": "Alert channels, rules, Send test, and each run's deliveries"},
    {"name": "variables", "description": "Variables and write-only secrets of runs, project-wide or per job"},
    {"name": "auth", "description": "API keys and UI sessions"},
    {"name": "health", "description": "Liveness, readiness and Prometheus metrics"},
]


class SchemaNotReady(RuntimeError):
    pass


def _check_schema(engine: Engine) -> None:
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaNotReady(
            f"database schema is at revision {current or 'none'} but this release needs {head}: "
            f"run `supertest migrate` (database {engine.url.render_as_string(hide_password=True)})"
        )


async def _build(settings: ApiSettings, launcher: RunLauncher | None, bus: EventBus | None) -> AppResources:
    engine = make_engine(settings.effective_database_url)
    try:
        await run_in_threadpool(_check_schema, engine)
    except Exception:
        engine.dispose()
        raise
    factory = make_session_factory(engine)
    bus = bus or create_bus(settings)
    stores: dict[str, ArtifactStore] = {kind: create_store(settings, kind) for kind in ("test", "job")}
    if settings.s3_endpoint is None:
        for store in stores.values():
            store.ensure_ready()  # local folders; S3 buckets are the runner's and the chart's business
    return AppResources(
        settings=settings,
        engine=engine,
        session_factory=factory,
        bus=bus,
        launcher=launcher or build_launcher(settings, factory, bus),
        stores=stores,
        signer=SessionSigner(load_session_secret(settings)),
        key_cache=KeyCache(settings.api_key_cache_seconds),
        secrets=load_secret_box(settings),
        artifact_links=artifact_links(settings),
    )


def _run_counts(factory: sessionmaker[Session]) -> tuple[int, int]:
    """(queued, running) for the metrics gauges: the counts /api/capacity and admission use."""
    with session_scope(factory) as session:
        return run_repo.queued_count(session), run_repo.count_active(session)


class SupertestApi(FastAPI):
    """FastAPI that keeps the server's own `send` in each request's scope: live SSE streams write their chunks with
    it, past the per-request middlewares' wrappers, which only need a response's start (status/stream_response.py)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        remember_server_send(scope, send)
        await super().__call__(scope, receive, send)


def create_app(
    settings: ApiSettings | None = None, launcher: RunLauncher | None = None, *, bus: EventBus | None = None
) -> FastAPI:
    """`launcher` and `bus` replace the ones RUN_BACKEND / REDIS_URL would pick (tests, embedding)."""
    settings = settings or ApiSettings()
    if not structlog.is_configured():  # the CLI configures logging; a bare `uvicorn --factory` gets the same
        configure_logging(settings.log_format, settings.log_level)
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await _build(settings, launcher, bus)
        await resources.launcher.start()
        try:
            resources.testjobs = build_testjob_cluster(settings, resources.launcher)
        except Exception:
            await resources.launcher.stop()
            raise
        # Local mode runs the cron scheduler in-process; in Kubernetes the operator owns schedules (TestJob).
        scheduler = LocalScheduler(resources.session_factory, resources.launcher) if settings.is_local else None
        if scheduler is not None:
            await scheduler.start()
            resources.wake_scheduler = scheduler.wake
        # Local mode sends alerts from here; in Kubernetes mode the operator does (see loops.notify_forever there).
        sender = OutboxSender(settings, resources.session_factory, resources.secrets) if settings.is_local else None
        if sender is not None:
            await sender.start()
        app.state.resources = resources
        metrics.read_counts_with(lambda: _run_counts(resources.session_factory))
        metrics_server = MetricsServer.start(metrics, settings.host, settings.metrics_port)
        log.info("api started", backend=settings.run_backend.value, database=resources.engine.url.get_backend_name())
        try:
            yield
        finally:
            if metrics_server is not None:
                metrics_server.stop()
            metrics.read_counts_with(None)
            app.state.resources = None
            if scheduler is not None:
                await scheduler.stop()
            if sender is not None:
                await sender.stop()
            with contextlib.suppress(Exception):
                await resources.launcher.stop()
            if bus is None:  # only close what we created
                with contextlib.suppress(Exception):
                    await resources.bus.close()
            resources.engine.dispose()
            log.info("api stopped")

    app = SupertestApi(
        title="Supertest",
        summary="Run Playwright browser tests on Kubernetes (or locally), with live status and HTML reports.",
        version="0.1.0",
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
        # FastAPI's own pages load Swagger UI and ReDoc from CDNs: /docs is ours (apidocs), served offline.
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(reject_unstorable_params)],
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.resources = None
    install_error_handlers(app)
    # Added last = outermost: the request log sees the body-limit 413s too.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=MAX_BODY_BYTES,
        larger=ingest_service.artifact_body_limit,
    )
    app.add_middleware(RequestLogMiddleware, metrics=metrics)
    # Outermost: the scheme (Secure cookies) and client address come from X-Forwarded-* of trusted proxies only.
    # The CLI turns uvicorn's own copy off, so FORWARDED_ALLOW_IPS here is the one setting that decides.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)

    routers = [health_router] + ([] if settings.metrics_port else [metrics_router])
    for router in (
        *routers,
        auth_router,
        runs_router,  # before jobs: POST /api/jobs/run is a runs route
        status_router,
        results_router,
        ingest_router,
        testhealth_router,  # before tests: /api/tests/{id} would take /api/tests/health
        tests_router,
        jobs_router,
        capacity_router,
        notifications_router,
        variables_router,
        ui_router,
        apidocs_router,
    ):
        app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR, packages=None), name="ui-static")
    app.mount(apidocs_service.ASSETS_PATH, StaticFiles(packages=apidocs_service.ASSET_PACKAGES), name="docs-assets")
    return app
