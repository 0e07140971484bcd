"""Operator startup and shutdown: kopf settings, clients, the webhook server, probes and loops."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import kopf
import structlog
from sqlalchemy.orm import Session, sessionmaker

from supertest.auto_quarantine import AutoQuarantineRule
from supertest.bus import create_bus, create_redis_client
from supertest.db.engine import make_engine, make_session_factory
from supertest.kube.client import SA_DIR, KubeApi, in_cluster_server, kubeconfig_credentials
from supertest.logs import configure_logging
from supertest.results_recorder import ResultsReader
from supertest_operator import cluster, loops, probe_server, watches
from supertest_operator.context import OperatorContext
from supertest_operator.db_mirror import DbMirror
from supertest_operator.handlers.webhook import QueueGate
from supertest_operator.leader import LeaderLease
from supertest_operator.settings import OperatorSettings
from supertest_operator.webhook_server import webhook_server

log = structlog.get_logger("supertest.operator")
PREFIX = "supertest.dev"
KOPF_IDLE_SECONDS = 0.5

# Set by `app.run(settings)`; `kopf run -m supertest_operator.main` reads the environment instead.
_preset: OperatorSettings | None = None


def preset(settings: OperatorSettings | None) -> None:
    global _preset
    _preset = settings


def load_settings() -> OperatorSettings:
    return _preset if _preset is not None else OperatorSettings()


class NoDiffBase(kopf.AnnotationsDiffBaseStorage):
    """kopf builds an object's diff base (a deep copy of its whole body) on every watch event, for on.create/
    on.update/on.field handlers. We register none (plain on.event handlers and indexes only: see run_events), so
    nothing ever reads it, and in a burst those copies were about 6% of the operator's CPU. A change handler added
    later needs the parent class back."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None


def configure_kopf(settings: kopf.OperatorSettings, ours: OperatorSettings) -> None:
    settings.persistence.finalizer = f"{PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = NoDiffBase(prefix=PREFIX, key="last-handled-configuration")
    settings.watching.server_timeout = ours.watch_server_timeout
    settings.watching.client_timeout = ours.watch_client_timeout
    settings.watching.connect_timeout = ours.connect_timeout
    settings.networking.connect_timeout = ours.connect_timeout
    settings.networking.request_timeout = ours.request_timeout
    settings.posting.level = logging.getLevelName(ours.event_level)
    settings.posting.reporting_component = "supertest-operator"
    if ours.peering_name:
        settings.peering.name = ours.peering_name
        settings.peering.standalone = False
    else:
        settings.peering.standalone = True
    settings.execution.max_workers = 4
    # kopf waits this long for more events on an object before handling it; 0.1 s doubles admission latency.
    settings.batching.batch_window = ours.batch_window_seconds
    # A worker (task, queue, the object's last body) per object lives this long after its last event; a burst of
    # thousands of runs holds thousands of them at once. The default is 5 s.
    settings.queueing.idle_timeout = KOPF_IDLE_SECONDS
    # Our resources are known up front: no CRD/namespace scanning, so no cluster-wide list RBAC for it.
    settings.scanning.disabled = True


async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """kopf's credentials, read as the kube client reads them (see `entry`: kopf's client-library logins would
    import those libraries). kopf calls this again on a 401, so a rotated token is read again."""
    info = connection_info()
    # A kubeconfig user with an exec plugin: only kubernetes_asyncio can run it.
    return info if info is not None else await kopf.login_via_async_client(**kwargs)


def connection_info() -> kopf.ConnectionInfo | None:
    """In a pod: the service account, on the address Kubernetes gives every pod (KUBERNETES_SERVICE_HOST), no
    cluster DNS needed. Else the kubeconfig; None for a user with an exec or auth-provider plugin."""
    server = in_cluster_server()
    if server is not None:
        namespace = SA_DIR / "namespace"
        return kopf.ConnectionInfo(
            server=server,
            ca_path=str(SA_DIR / "ca.crt"),
            token=(SA_DIR / "token").read_text().strip(),
            default_namespace=namespace.read_text().strip() if namespace.exists() else None,
        )
    creds = kubeconfig_credentials()
    if creds.plugin:
        return None
    return kopf.ConnectionInfo(
        server=creds.server,
        ca_path=creds.ca_file,
        insecure=creds.insecure,
        certificate_path=creds.cert_file,
        private_key_path=creds.key_file,
        token=Path(creds.token_file).read_text().strip() if creds.token_file else creds.token,
        username=creds.username,
        password=creds.password,
    )


def _sessions(settings: OperatorSettings) -> sessionmaker[Session] | None:
    if not settings.database_url:
        return None
    return make_session_factory(make_engine(settings.effective_database_url))


async def on_startup(settings: kopf.OperatorSettings, memo: Any) -> None:
    ours = load_settings()
    configure_logging(ours.log_format, ours.log_level)
    configure_kopf(settings, ours)
    kube = await KubeApi.connect(request_timeout=ours.request_timeout)
    sessions = _sessions(ours)
    # The mirror reads a finished run's results.json for its per-test rows (no object store: none to read).
    results = ResultsReader(ours) if ours.s3_endpoint else None
    rule = AutoQuarantineRule.from_settings(ours)
    db = DbMirror(sessions, results, rule) if sessions is not None else None
    if db is not None:
        db.start()
    redis = create_redis_client(ours) if ours.redis_url else None
    bus = create_bus(ours) if ours.redis_url else None
    ctx = OperatorContext(settings=ours, kube=kube, redis=redis, db=db, sessions=sessions, bus=bus)
    memo.ctx = ctx
    memo.webhook = QueueGate(ours)
    try:  # before kopf serves the webhook: its count of waiting runs comes from this cache
        await cluster.resync(kube, ours.namespace_list, ctx.runs, ctx.pods)
    except Exception as exc:  # the apiserver is not there yet: the first reconcile pass lists again
        log.warning("run_list_failed", error=repr(exc))
    if ours.webhook_enabled:
        cert_dir = Path(ours.webhook_cert_dir or tempfile.mkdtemp(prefix="supertest-webhook-"))
        settings.admission.server = webhook_server(ours, cert_dir)
        settings.admission.managed = ours.webhook_config_name
    memo.probes = await probe_server.serve(ctx)
    if ours.peering_name:
        lease_ns = ours.namespace_list[0] if ours.namespace_list else ours.lease_namespace
        ctx.leader = LeaderLease(kube, lease_ns, f"supertest-operator-{ours.peering_name}")
        ctx.spawn(ctx.leader.keep(), name="leader-lease")
    ctx.spawn(watches.watch_runs(ctx, memo.webhook), name="run-watch")
    ctx.spawn(watches.watch_pods(ctx), name="pod-watch")
    ctx.spawn(loops.reconcile_forever(ctx), name="reconcile")
    ctx.spawn(loops.orphans_forever(ctx), name="orphans")
    ctx.spawn(loops.retention_forever(ctx), name="retention")
    ctx.spawn(loops.scheduler_forever(ctx), name="scheduler")
    ctx.spawn(loops.notify_forever(ctx), name="notify-sender")
    log.info(
        "operator_started",
        namespaces=ours.namespace_list or "cluster-wide",
        running_capacity=ours.running_capacity,
        queued_capacity=ours.queued_capacity,
        probe_port=ctx.probe_port,
    )


async def on_cleanup(memo: Any) -> None:
    ctx: OperatorContext | None = getattr(memo, "ctx", None)
    if ctx is not None:
        await ctx.close()
    runner = getattr(memo, "probes", None)
    if runner is not None:
        await runner.cleanup()
