"""A real `helm install` / `upgrade` / `uninstall` against the test apiserver (no pods run: nothing waits on them).

Checks what only a live install shows: the kopf peering object (a post-install hook) is created after its CRD,
which the same install creates; generated secrets survive an upgrade (`lookup`); `crds.keep` keeps the CRDs on
uninstall while everything else goes.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from tests.k8s.controlplane import ControlPlane
from tests.k8s.wait import wait_for
from tests.unit.chart.chartlib import CHART, helm

# The first test of a fresh machine builds helm from the Go proxy (build-helm.sh, minutes on 2 cores)
# or downloads a Go module; the project's default per-test timeout is too short for that one cold start.
pytestmark = pytest.mark.timeout(1800)

PEERING_CRD = "kopfpeerings.kopf.dev"
RUN_CRDS = ("testruns.supertest.dev", "jobruns.supertest.dev", "testjobs.supertest.dev")
# External services (nothing connects to them here) and no hook Jobs, which would wait for pods forever.
VALUES = [
    "operator.replicas=2",
    "postgres.enabled=false",
    "postgres.external.url=postgresql://u:p@db.invalid:5432/supertest",
    "redis.enabled=false",
    "redis.external.url=redis://redis.invalid:6379/0",
    "objectStore.enabled=false",
    "objectStore.external.endpoint=https://s3.invalid",
    "objectStore.external.accessKeyId=AKIAEXAMPLE",
    "objectStore.external.secretAccessKey=example-secret-key",
    "migrations.enabled=false",
]


def crd_exists(api: k8s.ApiextensionsV1Api, name: str) -> bool:
    try:
        api.read_custom_resource_definition(name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


@pytest.fixture
def helm_env(tmp_path: Path, control_plane: ControlPlane) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG")}
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = str(tmp_path / var.lower())
    return {**env, "HOME": str(tmp_path), "KUBECONFIG": str(control_plane.kubeconfig_path)}


def adopt(control_plane: ControlPlane, crd: str, release: str, namespace: str) -> None:
    """Other tests apply the run CRDs with kubectl; mark them as this release's, as `helm install` requires."""
    control_plane.kubectl("label", "--overwrite", f"crd/{crd}", "app.kubernetes.io/managed-by=Helm")
    control_plane.kubectl(
        "annotate", "--overwrite", f"crd/{crd}",
        f"meta.helm.sh/release-name={release}", f"meta.helm.sh/release-namespace={namespace}",
    )  # fmt: skip


def test_install_upgrade_uninstall(
    control_plane: ControlPlane, k8s_namespace: str, k8s_api: k8s.ApiClient, helm_env: dict[str, str]
) -> None:
    ext, core = k8s.ApiextensionsV1Api(k8s_api), k8s.CoreV1Api(k8s_api)
    release = f"h{k8s_namespace[-6:]}"
    fullname = f"{release}-supertest"
    # The peering CRD must be new to this install: that is the ordering being tested.
    if crd_exists(ext, PEERING_CRD):
        ext.delete_custom_resource_definition(PEERING_CRD)
        wait_for(lambda: not crd_exists(ext, PEERING_CRD), timeout=60, message=f"{PEERING_CRD} deleted")
    for crd in RUN_CRDS:
        if crd_exists(ext, crd):
            adopt(control_plane, crd, release, k8s_namespace)

    sets = [arg for value in VALUES for arg in ("--set", value)]
    common = ["--namespace", k8s_namespace, str(CHART), *sets, "--timeout", "120s"]
    helm("install", release, *common, env=helm_env)
    peering = k8s.CustomObjectsApi(k8s_api).get_namespaced_custom_object(
        "kopf.dev", "v1", k8s_namespace, "kopfpeerings", "supertest"
    )
    assert peering["metadata"]["name"] == "supertest"
    apps = k8s.AppsV1Api(k8s_api)
    assert apps.read_namespaced_deployment(f"{fullname}-operator", k8s_namespace).spec.replicas == 2
    session_before = core.read_namespaced_secret(f"{fullname}-session", k8s_namespace).data["SESSION_SECRET"]
    assert len(base64.b64decode(session_before)) >= 16

    helm("upgrade", release, *common, env=helm_env)
    session_after = core.read_namespaced_secret(f"{fullname}-session", k8s_namespace).data["SESSION_SECRET"]
    assert session_after == session_before, "a generated secret must survive upgrades (lookup)"

    helm("uninstall", release, "--namespace", k8s_namespace, "--wait", "--timeout", "60s", env=helm_env)
    assert all(crd_exists(ext, crd) for crd in (*RUN_CRDS, PEERING_CRD)), "crds.keep must keep the CRDs"
    with pytest.raises(ApiException) as gone:
        apps.read_namespaced_deployment(f"{fullname}-operator", k8s_namespace)
    assert gone.value.status == 404
    with pytest.raises(ApiException) as role_gone:
        k8s.RbacAuthorizationV1Api(k8s_api).read_cluster_role(f"{fullname}-operator-cluster")
    assert role_gone.value.status == 404
