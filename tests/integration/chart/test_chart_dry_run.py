"""Every manifest the chart renders is accepted by the real test kube-apiserver (`kubectl apply --dry-run=server`).

The control plane comes from tests/k8s/plugin.py. CRDs must exist for real before custom kinds can be
dry-run: the chart's own CRDs (and kopf's peering CRD) are applied first, and so is a minimal copy of the
Prometheus Operator's ServiceMonitor CRD (the real one is ~1 MB of schema; only the kind must be served here).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.controlplane import ControlPlane
from tests.unit.chart.chartlib import CHART, CI_VALUES, render, split_crds

# The first test of a fresh machine builds helm from the Go proxy (build-helm.sh, minutes on 2 cores)
# or downloads a Go module; the project's default per-test timeout is too short for that one cold start.
pytestmark = pytest.mark.timeout(1800)

SERVICE_MONITOR_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {"kind": "ServiceMonitor", "listKind": "ServiceMonitorList", "plural": "servicemonitors",
                  "singular": "servicemonitor"},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}},
        }],
    },
}  # fmt: skip


def apply_crds(cp: ControlPlane, crds: list[dict[str, Any]]) -> None:
    if not crds:
        return
    cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=yaml.safe_dump_all(crds))
    names = [f"crd/{c['metadata']['name']}" for c in crds]
    cp.kubectl("wait", "--for=condition=Established", *names, "--timeout=60s")


@pytest.fixture(scope="module")
def service_monitor_crd(control_plane: ControlPlane) -> Iterator[None]:
    apply_crds(control_plane, [SERVICE_MONITOR_CRD])
    yield
    control_plane.kubectl("delete", "crd", SERVICE_MONITOR_CRD["metadata"]["name"], "--wait=false", check=False)


@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: Path(p).name.removesuffix("-values.yaml"))
def test_rendered_chart_is_accepted_by_the_apiserver(
    control_plane: ControlPlane, k8s_namespace: str, service_monitor_crd: None, values_file: Path
) -> None:
    manifests = render(namespace=k8s_namespace, values_files=[values_file], release=f"r{k8s_namespace[-6:]}")
    crds, rest = split_crds(manifests)
    apply_crds(control_plane, crds)
    # Helm runs the `helm test` Pod after the release exists; admission looks its ServiceAccount up.
    accounts = [m for m in rest if m["kind"] == "ServiceAccount"]
    control_plane.kubectl("apply", "-n", k8s_namespace, "-f", "-", input=yaml.safe_dump_all(accounts))
    out = control_plane.kubectl(
        "apply", "--dry-run=server", "-n", k8s_namespace, "-f", "-",
        input=yaml.safe_dump_all(manifests), check=False, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    # One line per object, each accepted by the server (not merely parsed by kubectl).
    accepted = [line for line in out.stdout.splitlines() if line.endswith("(server dry run)")]
    assert len(accepted) == len(manifests), out.stdout
    kinds = {m["kind"] for m in rest}
    assert {"Deployment", "Service", "ServiceAccount", "Secret", "ClusterRole"} <= kinds


def test_apiserver_rejects_what_the_schema_would_not_catch(control_plane: ControlPlane, k8s_namespace: str) -> None:
    """The dry run is a real check: a broken manifest from the same render fails it."""
    manifests = render(namespace=k8s_namespace, values_files=[CHART / "ci" / "default-values.yaml"])
    _, rest = split_crds(manifests)
    deployment = next(m for m in rest if m["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = 70000
    out = control_plane.kubectl(
        "apply", "--dry-run=server", "-n", k8s_namespace, "-f", "-", input=yaml.safe_dump(deployment), check=False
    )
    assert out.returncode != 0
    assert "containerPort" in out.stderr
