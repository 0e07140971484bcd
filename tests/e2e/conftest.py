"""E2e fixtures: the real control plane + node agent, CRDs, Redis/Postgres/S3, and operator subprocesses.

`tests/e2e/kubelet/conftest.py` overrides `e2e`, `k8s_namespace` and `k8s_api` with a real kubelet and
containerd (tests/k8s/node.py), so every helper here serves both kinds of node.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException
from supertest_api.app import create_app
from supertest_api.artifacts_origin.app import create_artifacts_app
from supertest_api.kubernetes.launcher import KubernetesLauncher

from supertest.bus import create_bus
from supertest.db import apikeys
from supertest.db.engine import make_engine, make_session_factory, session_scope
from supertest.db.migrate import upgrade
from supertest.kube.names import GROUP, VERSION
from supertest.settings import ApiSettings
from tests.e2e.operator_proc import OperatorProcess, operator_env
from tests.e2e.scripts import PASSING
from tests.k8s.controlplane import ControlPlane
from tests.k8s.node_agent import NodeAgent
from tests.k8s.rbac import deploy_rbac_docs
from tests.k8s.wait import wait_for
from tests.services.s3 import S3Server
from tests.support.api_thread import serving
from tests.support.local_server import free_port

REPO = Path(__file__).resolve().parents[2]
SETUP_PLAYWRIGHT = REPO / "scripts" / "setup-playwright.sh"
TERMINAL = {"Passed", "Failed", "Error", "Cancelled", "TimedOut"}


@dataclass
class E2eEnv:
    cp: ControlPlane
    agent: NodeAgent | None  # None on the real kubelet
    redis_url: str
    database_url: str
    s3: S3Server
    buckets: dict[str, str]
    playwright: dict[str, str]
    tmp: Path
    # The node agent runs any image name as a local runner process; the real kubelet runs the built image.
    runner_image: str = "supertest-runner:e2e"

    def s3_env(self) -> dict[str, str]:
        return {
            **self.s3.env(),
            "S3_TEST_BUCKET_NAME": self.buckets["test"],
            "S3_JOB_BUCKET_NAME": self.buckets["job"],
        }

    def pod_logs(self, namespace: str, pod: str) -> str:
        if self.agent is not None:
            return self.agent.logs(namespace, pod)
        out = self.cp.kubectl("-n", namespace, "logs", pod, "--all-containers", check=False)
        return out.stdout + out.stderr


@pytest.fixture(scope="session")
def e2e(
    control_plane: ControlPlane,
    node_agent: NodeAgent,
    redis_url: str,
    postgres_server: Any,
    s3_server: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> E2eEnv:
    return make_env(control_plane, node_agent, redis_url, postgres_server, s3_server, tmp_path_factory)


def make_env(
    control_plane: ControlPlane,
    node_agent: NodeAgent | None,
    redis_url: str,
    postgres_server: Any,
    s3_server: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> E2eEnv:
    """CRDs, a migrated database, two buckets and Playwright on the given services (the fault tier brings its own)."""
    control_plane.install_crds()
    database_url = postgres_server.create_database()
    upgrade(database_url)
    suffix = uuid.uuid4().hex[:8]
    buckets = {"test": f"e2e-tests-{suffix}", "job": f"e2e-jobs-{suffix}"}
    for bucket in buckets.values():
        s3_server.create_bucket(bucket)
    out = subprocess.run(["bash", str(SETUP_PLAYWRIGHT)], capture_output=True, text=True, timeout=600, check=True)
    playwright = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    return E2eEnv(
        cp=control_plane,
        agent=node_agent,
        redis_url=redis_url,
        database_url=database_url,
        s3=s3_server,
        buckets=buckets,
        playwright=playwright,
        tmp=tmp_path_factory.mktemp("e2e"),
    )


class Cluster:
    """Test-side helpers over one namespace: kubectl, run objects, pods, polling."""

    def __init__(self, env: E2eEnv, namespace: str, api: k8s.ApiClient) -> None:
        self.env = env
        self.ns = namespace
        self.custom = k8s.CustomObjectsApi(api)
        self.core = k8s.CoreV1Api(api)

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        out = self.env.cp.kubectl("-n", self.ns, *args, check=False, input=stdin, timeout=120)
        if check and out.returncode != 0:  # say what kubectl said, not only its exit code
            raise AssertionError(f"kubectl {' '.join(args)} exited with {out.returncode}: {out.stderr.strip()}")
        return out

    def apply(self, manifest: dict[str, Any], check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest), check=check)

    def create_run(self, manifest: dict[str, Any]) -> dict[str, Any]:
        plural = "jobruns" if manifest["kind"] == "JobRun" else "testruns"
        return dict(self.custom.create_namespaced_custom_object(GROUP, VERSION, self.ns, plural, manifest))

    def run(self, name: str, plural: str = "testruns") -> dict[str, Any] | None:
        try:
            return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, self.ns, plural, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def runs(self, plural: str = "testruns") -> list[dict[str, Any]]:
        return list(self.custom.list_namespaced_custom_object(GROUP, VERSION, self.ns, plural)["items"])

    def phase(self, name: str, plural: str = "testruns") -> str | None:
        obj = self.run(name, plural)
        return ((obj or {}).get("status") or {}).get("phase")

    def wait_phase(
        self, name: str, phases: set[str] | str, timeout: float = 180, plural: str = "testruns"
    ) -> dict[str, Any]:
        wanted = {phases} if isinstance(phases, str) else phases

        def check() -> dict[str, Any] | None:
            obj = self.run(name, plural)
            return obj if obj and (obj.get("status") or {}).get("phase") in wanted else None

        return wait_for(
            check, timeout=timeout, interval=0.3, message=lambda: f"{name} in {wanted}: {self.describe(name, plural)}"
        )

    def describe(self, name: str, plural: str = "testruns") -> str:
        obj = self.run(name, plural)
        return json.dumps((obj or {}).get("status"), indent=1)

    def pods(self, label: str = "supertest.dev/run") -> list[Any]:
        return list(self.core.list_namespaced_pod(self.ns, label_selector=label).items)

    def live_pods(self) -> list[Any]:
        return [p for p in self.pods() if p.status.phase not in ("Succeeded", "Failed")]

    def configmaps(self, label: str = "supertest.dev/run") -> list[Any]:
        return list(self.core.list_namespaced_config_map(self.ns, label_selector=label).items)

    def events_for(self, name: str) -> list[Any]:
        items = self.core.list_namespaced_event(self.ns, field_selector=f"involvedObject.name={name}").items
        # The operator names Events <run>.<nanoseconds hex>: name order is posting order (timestamps are seconds).
        return sorted(items, key=lambda e: e.metadata.name)


def make_testrun(name: str, script: str = PASSING, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TestRun",
        "metadata": {"name": name},
        "spec": {"script": script, **spec},
    }


@pytest.fixture
def cluster(e2e: E2eEnv, k8s_namespace: str, k8s_api: k8s.ApiClient) -> Cluster:
    # The pods read S3 credentials from this Secret (S3_CREDENTIALS_SECRET), never from plain env.
    secret = k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="supertest-s3"),
        string_data={"AWS_ACCESS_KEY_ID": e2e.s3.access_key, "AWS_SECRET_ACCESS_KEY": e2e.s3.secret_key},
    )
    k8s.CoreV1Api(k8s_api).create_namespaced_secret(k8s_namespace, secret)
    return Cluster(e2e, k8s_namespace, k8s_api)


OperatorFactory = Callable[..., OperatorProcess]


@pytest.fixture
def start_operator(e2e: E2eEnv, cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[OperatorFactory]:
    started: list[OperatorProcess] = []

    def start(**overrides: str) -> OperatorProcess:
        env = operator_env(
            kubeconfig=e2e.cp.kubeconfig_path,
            namespace=cluster.ns,
            redis_url=e2e.redis_url,
            database_url=e2e.database_url,
            s3_env=e2e.s3_env(),
            playwright_env=e2e.playwright,
            runner_image=e2e.runner_image,
            overrides={k.upper(): v for k, v in overrides.items()},
        )
        log = e2e.tmp / f"operator-{cluster.ns}.log"
        proc = OperatorProcess(env=env, log_path=log)
        started.append(proc)  # before start(): an interrupt while it waits for readiness must still stop it
        return proc.start()

    yield start
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else False
    if failed:
        for pod in cluster.pods()[:5]:
            print(f"--- pod {pod.metadata.name} ---\n{e2e.pod_logs(cluster.ns, pod.metadata.name)[-3000:]}")
    if started and started[-1].proc is not None and started[-1].proc.poll() is None:
        delete_all_runs(cluster)  # while the operator runs, so its finalizer is released
    for proc in started:
        proc.stop()
    if failed and started:
        print(f"--- operator log ({started[-1].log_path}) ---\n{started[-1].tail(150)}")


def delete_all_runs(cluster: Cluster, timeout: float = 60) -> None:
    # TestJobs first, or a tick could create a run after the sweep.
    for plural in ("testjobs", "testruns", "jobruns"):
        cluster.custom.delete_collection_namespaced_custom_object(GROUP, VERSION, cluster.ns, plural)
    wait_for(
        lambda: not cluster.runs("testruns") and not cluster.runs("jobruns"),
        timeout=timeout,
        message="runs deleted at teardown",
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    rep = yield
    if rep.when == "call":
        item.rep_call = rep  # type: ignore[attr-defined]
    return rep


def wait_until(predicate: Callable[[], Any], timeout: float, message: str = "condition") -> Any:
    return wait_for(predicate, timeout=timeout, interval=0.3, message=message)


def apply_rbac(cluster: Cluster, file: str) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(deploy_rbac_docs(file, cluster.ns)))


def can_i(cluster: Cluster, sa_name: str, *args: str) -> bool:
    out = cluster.kubectl("auth", "can-i", *args, f"--as=system:serviceaccount:{cluster.ns}:{sa_name}", check=False)
    return out.stdout.strip() == "yes"


@contextlib.contextmanager
def serve_api(
    e2e: E2eEnv, cluster: Cluster, host: str = "127.0.0.1", **overrides: Any
) -> Iterator[tuple[str, dict[str, str]]]:
    """The real API for this namespace, on `host`; yields its URL and an API key's Authorization header."""
    apply_rbac(cluster, "api.yaml")
    kubeconfig = e2e.cp.serviceaccount_kubeconfig(cluster.ns, "supertest-api")
    artifacts_port = free_port()
    values: dict[str, Any] = {
        "RUN_BACKEND": "kubernetes",
        "ARTIFACTS_URL": f"http://{host}:{artifacts_port}",
        "ARTIFACTS_SIGNING_KEY": "e2e-artifacts-signing-key-0123456789abcdef",
        "DATABASE_URL": e2e.database_url,
        "REDIS_URL": e2e.redis_url,
        "SESSION_SECRET": "e2e-session-secret-0123456789",
        "SUPERTEST_NAMESPACE": cluster.ns,
        "QUEUED_CAPACITY": 50,
        **e2e.s3_env(),
        **overrides,
    }
    settings = ApiSettings(**values)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        _, key = apikeys.create_key(session, "e2e")
    launcher = KubernetesLauncher(settings, sessions, create_bus(settings), kubeconfig=str(kubeconfig))
    try:
        # The artifacts origin next to the API, as the chart runs it: the API's report links redirect there.
        with (
            serving(create_artifacts_app(settings), host=host, port=artifacts_port),
            serving(create_app(settings, launcher), host=host) as url,
        ):
            yield url, {"Authorization": f"Bearer {key}"}
    finally:
        engine.dispose()


@pytest.fixture
def api(e2e: E2eEnv, cluster: Cluster) -> Iterator[tuple[str, dict[str, str]]]:
    with serve_api(e2e, cluster) as served:
        yield served
