"""The chart's RBAC and env are sufficient, and no more: the operator and the API run as local processes with
exactly the environment and ServiceAccount tokens the rendered chart gives their pods, and a TestRun passes.

What the chart renders is installed for real on the test apiserver: CRDs, ServiceAccounts, Roles, ClusterRoles,
bindings and Secrets. The Deployments cannot run (no kubelet for them), so their containers' env is resolved the
way the kubelet would (values, secretKeyRef from the installed Secrets, fieldRef) and each process authenticates
with a TokenRequest token of its chart ServiceAccount. Only addresses differ from a cluster: ports and hosts
the processes bind or dial on 127.0.0.1 (LOCAL_ONLY below), and scratch folders instead of emptyDirs.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client as k8s

from supertest.kube.names import GROUP, VERSION
from tests.e2e.conftest import PASSING, E2eEnv
from tests.e2e.operator_proc import REPO, OperatorProcess, free_port
from tests.k8s.controlplane import ControlPlane
from tests.k8s.wait import wait_for
from tests.unit.chart.chartlib import container_env, one, render, split_crds

# The first test of a fresh machine builds helm from the Go proxy (build-helm.sh, minutes on 2 cores)
# or downloads a Go module; the project's default per-test timeout is too short for that one cold start.
pytestmark = pytest.mark.timeout(1800)

# Env the test sets itself: where to listen and what the apiserver dials (127.0.0.1 instead of a Service),
# scratch folders (emptyDirs in the pod), and what a container image provides (PATH, LANG).
LOCAL_ONLY = {
    "WEBHOOK_HOST",
    "WEBHOOK_SERVICE",
    "WEBHOOK_LISTEN",
    "WEBHOOK_PORT",
    "WEBHOOK_CERT_DIR",
    "PROBE_HOST",
    "PROBE_PORT",
    "SUPERTEST_HOST",
    "SUPERTEST_PORT",
    "HOME",
    "SUPERTEST_HOME",
}
# The kopf peering object is a post-install hook of the chart: Helm creates it after the release's resources.
INSTALLED_KINDS = {
    "ServiceAccount", "Secret", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
    "KopfPeering", "ClusterKopfPeering",
}  # fmt: skip


@dataclass
class Installed:
    namespace: str
    release: str
    manifests: list[dict[str, Any]]
    cluster_wide: bool
    replicas: int
    api_port: int

    @property
    def fullname(self) -> str:
        return f"{self.release}-supertest"

    def deployment(self, component: str) -> dict[str, Any]:
        return one(self.manifests, "Deployment", f"{self.fullname}-{component}")

    def service_account(self, component: str) -> str:
        spec = self.deployment(component)["spec"]["template"]["spec"]
        return str(spec["serviceAccountName"])


def chart_values(env: E2eEnv, cluster_wide: bool, replicas: int, api_port: int = 0) -> dict[str, Any]:
    """External services = this session's Redis/Postgres/S3; run pods find the cached Playwright via extraEnv.
    Run pods post to the API on `api_port` of this host: the node agent has no Services to route the chart's
    default ingest URL (the real-node release test covers that one)."""
    return {
        "rbac": {"clusterWide": cluster_wide},
        "operator": {"replicas": replicas},
        "postgres": {"enabled": False, "external": {"url": env.database_url}},
        "redis": {"enabled": False, "external": {"url": env.redis_url}},
        "objectStore": {
            "enabled": False,
            "region": env.s3.region,
            "external": {
                "endpoint": env.s3.endpoint,
                "accessKeyId": env.s3.access_key,
                "secretAccessKey": env.s3.secret_key,
            },
            "buckets": {"test": env.buckets["test"], "job": env.buckets["job"]},
        },
        "config": {"runningCapacity": 2, "maxConcurrentTests": 1, "logFormat": "json"},
        "runner": {
            "trace": "off",
            "video": "off",
            "screenshot": "off",
            "extraEnv": [{"name": k, "value": v} for k, v in sorted(env.playwright.items())],
            "ingest": {"url": f"http://127.0.0.1:{api_port}"},
        },
    }


def resolve_env(container_vars: dict[str, Any], core: k8s.CoreV1Api, namespace: str, pod: str) -> dict[str, str]:
    """What the kubelet would give the container: plain values, Secret keys, the pod name."""
    out: dict[str, str] = {}
    for name, value in container_vars.items():
        if isinstance(value, str):
            out[name] = value
        elif "secretKeyRef" in value:
            ref = value["secretKeyRef"]
            secret = core.read_namespaced_secret(ref["name"], namespace)
            out[name] = base64.b64decode(secret.data[ref["key"]]).decode()
        elif value.get("fieldRef", {}).get("fieldPath") == "metadata.name":
            out[name] = pod
        else:
            raise AssertionError(f"{name}: unsupported env source {value}")
    return out


def process_env(chart_env: dict[str, str], kubeconfig: Path, local: dict[str, str]) -> dict[str, str]:
    assert set(local) <= LOCAL_ONLY, set(local) - LOCAL_ONLY
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG")}
    return {**base, **chart_env, **local, "KUBECONFIG": str(kubeconfig)}


# (rbac.clusterWide, operator.replicas): replicas > 1 adds kopf peering and the leader Lease to the RBAC.
@pytest.fixture(
    params=[(False, 1), (False, 2), (True, 2)], ids=["namespaced", "namespaced-peering", "cluster-wide-peering"]
)
def installed(
    e2e: E2eEnv, k8s_namespace: str, k8s_api: k8s.ApiClient, request: pytest.FixtureRequest
) -> Iterator[Installed]:
    cluster_wide, replicas = request.param
    cp: ControlPlane = e2e.cp
    release = f"c{k8s_namespace[-6:]}"
    values_file = e2e.tmp / f"{release}-values.yaml"
    api_port = free_port()
    values_file.write_text(yaml.safe_dump(chart_values(e2e, cluster_wide, replicas, api_port)))
    manifests = render(namespace=k8s_namespace, values_files=[values_file], release=release)
    crds, rest = split_crds(manifests)
    cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=yaml.safe_dump_all(crds))
    cp.kubectl("wait", "--for=condition=Established", *[f"crd/{c['metadata']['name']}" for c in crds])
    objects = [m for m in rest if m["kind"] in INSTALLED_KINDS]
    objects.sort(key=lambda m: m["kind"] in ("KopfPeering", "ClusterKopfPeering"))  # hooks last, as Helm does
    cp.kubectl("apply", "-n", k8s_namespace, "-f", "-", input=yaml.safe_dump_all(objects))
    cluster_scoped = [
        f"{m['kind'].lower()}/{m['metadata']['name']}" for m in objects if m["kind"].startswith("Cluster")
    ]
    try:
        yield Installed(k8s_namespace, release, manifests, cluster_wide, replicas, api_port)
    finally:
        webhooks = [
            f"{kind}/{release}-supertest.supertest.dev"
            for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration")
        ]
        cp.kubectl("delete", "--ignore-not-found", "--wait=false", *cluster_scoped, *webhooks, check=False)


@dataclass
class ApiProcess:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_api(env: dict[str, str], port: int, log: Path) -> ApiProcess:
    supertest = shutil.which("supertest", path=str(Path(sys.executable).parent))
    assert supertest, "the venv's `supertest` console script"
    api = ApiProcess(f"http://127.0.0.1:{port}", subprocess.Popen(  # the chart's command: ["supertest", "api"]
        [supertest, "api"], cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    ), log)  # fmt: skip

    def ready() -> bool:
        if api.proc.poll() is not None:
            raise AssertionError(f"the API exited with {api.proc.returncode}:\n{api.tail()}")
        try:
            return httpx.get(f"{api.url}/readyz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, timeout=90, interval=0.3, message=lambda: f"API ready\n{api.tail()}")
    return api


def forbidden(cp: ControlPlane, kubeconfig: Path, *args: str) -> str:
    out = cp.kubectl(*args, kubeconfig=kubeconfig, check=False)
    assert out.returncode != 0, f"kubectl {' '.join(args)} was allowed:\n{out.stdout}"
    assert "forbidden" in out.stderr.lower(), out.stderr
    return out.stderr


def test_chart_rbac_and_env_run_a_testrun(e2e: E2eEnv, installed: Installed, k8s_api: k8s.ApiClient) -> None:
    cp, ns = e2e.cp, installed.namespace
    core, custom = k8s.CoreV1Api(k8s_api), k8s.CustomObjectsApi(k8s_api)
    scratch = e2e.tmp / installed.release
    scratch.mkdir()

    operator_sa = installed.service_account("operator")
    operator_kubeconfig = cp.serviceaccount_kubeconfig(ns, operator_sa)
    operator_chart_env = resolve_env(
        container_env(installed.deployment("operator")), core, ns, f"{installed.fullname}-operator-0"
    )
    operator_local = {
        "WEBHOOK_HOST": "127.0.0.1",
        # No kube-proxy on this control plane: the apiserver dials the local process by URL, not the Service.
        "WEBHOOK_SERVICE": "",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(free_port()),
        "WEBHOOK_CERT_DIR": str(scratch / "webhook-certs"),
        "HOME": str(scratch),
        "SUPERTEST_HOME": str(scratch / "operator-home"),
    }
    # OperatorProcess runs the chart's command (`python -m supertest_operator`) and sets PROBE_HOST/PROBE_PORT.
    operator = OperatorProcess(
        env=process_env(operator_chart_env, operator_kubeconfig, operator_local), log_path=scratch / "operator.log"
    )

    api_sa = installed.service_account("api")
    api_kubeconfig = cp.serviceaccount_kubeconfig(ns, api_sa)
    api_chart_env = resolve_env(container_env(installed.deployment("api")), core, ns, f"{installed.fullname}-api-0")
    port = installed.api_port
    api_env = process_env(
        api_chart_env,
        api_kubeconfig,
        {"SUPERTEST_HOST": "127.0.0.1", "SUPERTEST_PORT": str(port), "HOME": str(scratch),
         "SUPERTEST_HOME": str(scratch / "api-home")},
    )  # fmt: skip
    key = subprocess.run(
        [sys.executable, "-m", "supertest.cli.main", "apikey", "create", "--name", "chart-e2e"],
        env=api_env, cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip

    api: ApiProcess | None = None
    operator.start()
    try:
        api = start_api(api_env, port, scratch / "api.log")
        with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
            created = http.post("/api/test", json={"script": PASSING, "title": "chart e2e", "timeoutSeconds": 120})
            assert created.status_code in (200, 201, 202), created.text
            run_id = created.json()["runId"]

            def finished() -> dict[str, Any] | None:
                body: dict[str, Any] = http.get(f"/api/runs/{run_id}").json()
                return body if body["phase"] in ("Passed", "Failed", "Error", "Cancelled", "TimedOut") else None

            run = wait_for(
                finished, timeout=240, interval=0.5,
                message=lambda: f"run {run_id} finished\n--- operator ---\n{operator.tail()}\n--- api ---\n"
                f"{api.tail() if api else ''}\n--- pod ---\n{e2e.pod_logs(ns, f'{run_id}-a1')[-3000:]}",
            )  # fmt: skip
            assert run["phase"] == "Passed", run
            assert run["summary"]["passed"] == 1

        # The operator created and patched its webhook configuration with the chart's narrow ClusterRole.
        webhook = k8s.AdmissionregistrationV1Api(k8s_api).read_validating_webhook_configuration(
            operator_chart_env["WEBHOOK_CONFIG_NAME"]
        )
        assert webhook.webhooks, "kopf could not patch its webhooks in"
        assert all("127.0.0.1" in (w.client_config.url or "") for w in webhook.webhooks)

        if installed.replicas > 1:
            # Peering: the operator took the leader Lease in the release namespace with the chart's Role.
            lease = k8s.CoordinationV1Api(k8s_api).read_namespaced_lease("supertest-operator-supertest", ns)
            assert lease.spec.holder_identity

        resource = custom.get_namespaced_custom_object(GROUP, VERSION, ns, "testruns", run_id)
        assert resource["status"]["phase"] == "Passed"
        pod = core.read_namespaced_pod(f"{run_id}-a1", ns)
        assert pod.spec.service_account_name == f"{installed.fullname}-runner"
        assert pod.spec.containers[0].image.startswith("ghcr.io/supertest/runner:")

        # `helm test`: the chart's test Pod (run by the node agent with the API ServiceAccount's projected token)
        # creates its own TestRun and exits 0 once it Passed.
        test_pod = one(installed.manifests, "Pod", f"{installed.fullname}-test-run-passes")
        cp.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(test_pod))
        test_pod_name = test_pod["metadata"]["name"]

        def test_pod_done() -> str | None:
            phase = core.read_namespaced_pod(test_pod_name, ns).status.phase
            return phase if phase in ("Succeeded", "Failed") else None

        phase = wait_for(
            test_pod_done, timeout=240, interval=0.5,
            message=lambda: f"helm test pod\n{e2e.pod_logs(ns, test_pod_name)[-3000:]}\n{operator.tail()}",
        )  # fmt: skip
        assert phase == "Succeeded", e2e.pod_logs(ns, test_pod_name)[-3000:]
        assert "Passed" in e2e.pod_logs(ns, test_pod_name)

        # What the chart does not grant is refused, for real requests with the chart's tokens.
        forbidden(cp, api_kubeconfig, "-n", ns, "delete", "pod", f"{run_id}-a1")
        forbidden(cp, api_kubeconfig, "-n", ns, "delete", "testrun", run_id)
        forbidden(cp, api_kubeconfig, "-n", ns, "get", "secrets")
        forbidden(cp, operator_kubeconfig, "-n", ns, "get", "secrets")
        if installed.cluster_wide:
            assert operator_chart_env["SUPERTEST_NAMESPACES"] == ""  # kopf serves every namespace
        else:
            assert operator_chart_env["SUPERTEST_NAMESPACES"] == ns
            forbidden(cp, operator_kubeconfig, "-n", "default", "get", "testruns")
            forbidden(cp, api_kubeconfig, "-n", "default", "get", "testruns")
        other: dict[str, Any] = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": f"{installed.release}-not-ours.supertest.dev"},
        }
        cp.kubectl("apply", "-f", "-", input=yaml.safe_dump(other))  # as admin
        try:
            forbidden(
                cp, operator_kubeconfig, "patch", "validatingwebhookconfiguration", other["metadata"]["name"],
                "--type=merge", "-p", '{"metadata":{"labels":{"x":"y"}}}',
            )  # fmt: skip
        finally:
            cp.kubectl("delete", "validatingwebhookconfiguration", other["metadata"]["name"], check=False)
    finally:
        # Runs go while the operator still runs, so its finalizers are released.
        for plural in ("testruns", "jobruns"):
            custom.delete_collection_namespaced_custom_object(GROUP, VERSION, ns, plural)
        wait_for(
            lambda: not custom.list_namespaced_custom_object(GROUP, VERSION, ns, "testruns")["items"],
            timeout=60, message="runs deleted",
        )  # fmt: skip
        if api is not None:
            api.stop()
        operator.stop()


def test_chart_hook_jobs_migrate_and_create_buckets(
    e2e: E2eEnv, postgres_server: Any, k8s_namespace: str, k8s_api: k8s.ApiClient
) -> None:
    """The migration (pre-install) and bucket (post-install) hook Jobs, run by the Job controller and the node
    agent in Helm's order, leave a schema at head and both buckets in place."""
    import sqlalchemy as sa

    from supertest.db.migrate import is_up_to_date

    cp, ns = e2e.cp, k8s_namespace
    database_url = postgres_server.create_database()  # empty: the hook must create the schema
    suffix = k8s_namespace[-6:]
    values = chart_values(e2e, cluster_wide=False, replicas=1)
    values["postgres"]["external"]["url"] = database_url
    values["objectStore"]["buckets"] = {"test": f"hook-tests-{suffix}", "job": f"hook-jobs-{suffix}", "create": True}
    values_file = e2e.tmp / f"hooks-{suffix}.yaml"
    values_file.write_text(yaml.safe_dump(values))
    manifests = render(namespace=ns, values_files=[values_file], release=f"k{suffix}")

    def hook(m: dict[str, Any]) -> list[str]:
        return str((m["metadata"].get("annotations") or {}).get("helm.sh/hook", "")).split(",")

    def weight(m: dict[str, Any]) -> int:
        return int(m["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))

    def run_jobs(phase: str) -> None:
        items = sorted((m for m in manifests if phase in hook(m)), key=weight)
        assert any(m["kind"] == "Job" for m in items), f"no {phase} Job rendered"
        for item in items:  # by hook weight, each Job to completion before the next, as Helm does
            cp.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(item))
            if item["kind"] == "Job":
                name = item["metadata"]["name"]
                done = cp.kubectl(
                    "-n", ns, "wait", "--for=condition=Complete", f"job/{name}", "--timeout=180s",
                    check=False, timeout=200,
                )  # fmt: skip
                pods = k8s.CoreV1Api(k8s_api).list_namespaced_pod(ns, label_selector=f"job-name={name}").items
                logs = "\n".join(e2e.pod_logs(ns, p.metadata.name)[-2000:] for p in pods)
                assert done.returncode == 0, f"{name}: {done.stderr}\n{logs}"

    run_jobs("pre-install")
    release_objects = [m for m in manifests if m["kind"] == "Secret" and hook(m) == [""]]
    cp.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump_all(release_objects))
    run_jobs("post-install")

    engine = sa.create_engine(database_url)
    try:
        assert is_up_to_date(engine)
    finally:
        engine.dispose()
    s3 = e2e.s3.client()
    for bucket in values["objectStore"]["buckets"].values():
        if isinstance(bucket, str):
            s3.head_bucket(Bucket=bucket)
