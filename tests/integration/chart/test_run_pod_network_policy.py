"""Issue 12, "Done when" 3: the chart's default values render a run-pod NetworkPolicy that keeps scripts off the
cluster's ranges and the metadata address, and the real kube-apiserver accepts it (`kubectl apply --dry-run=server`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.controlplane import ControlPlane
from tests.unit.chart.chartlib import RELEASE, one, render

# As in test_chart_dry_run: a cold machine builds helm first.
pytestmark = pytest.mark.timeout(1800)

POLICY = f"{RELEASE}-supertest-run-pods"
DEFAULT_CLUSTER_RANGES = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"}


def _internet_rule(policy: dict[str, Any]) -> dict[str, Any]:
    blocks = [peer["ipBlock"] for rule in policy["spec"]["egress"] for peer in rule.get("to", []) if "ipBlock" in peer]
    assert len(blocks) == 1, blocks
    block: dict[str, Any] = blocks[0]
    return block


def test_default_values_render_a_run_pod_policy_that_excludes_cluster_ranges_and_metadata() -> None:
    policy = one(render(), "NetworkPolicy", POLICY)
    spec = policy["spec"]
    assert spec["podSelector"] == {"matchExpressions": [{"key": "supertest.dev/run", "operator": "Exists"}]}
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    assert spec["ingress"] == []

    internet = _internet_rule(policy)
    assert internet["cidr"] == "0.0.0.0/0"
    assert {"169.254.169.254/32", "169.254.0.0/16"} | DEFAULT_CLUSTER_RANGES == set(internet["except"])

    dns, api = spec["egress"][0], spec["egress"][2]
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert api["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    assert api["ports"] == [{"port": 8000, "protocol": "TCP"}]
    assert len(spec["egress"]) == 3  # nothing else: no Redis, object store or database rule


def test_configured_ranges_and_targets_are_what_the_policy_uses(tmp_path: Path) -> None:
    sets = [
        "runner.networkPolicy.podCIDRs={10.42.0.0/16}",
        "runner.networkPolicy.serviceCIDRs={10.43.0.0/16}",
        "runner.networkPolicy.apiPort=8080",
    ]
    target = {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}}],
        "ports": [{"port": 8443, "protocol": "TCP"}],
    }
    values = tmp_path / "targets-values.yaml"
    values.write_text(yaml.safe_dump({"runner": {"networkPolicy": {"allowedTargets": [target]}}}))
    policy = one(render(values_files=[values], sets=sets), "NetworkPolicy", POLICY)
    internet = _internet_rule(policy)
    assert set(internet["except"]) == {"10.42.0.0/16", "10.43.0.0/16", "169.254.169.254/32", "169.254.0.0/16"}
    assert policy["spec"]["egress"][2]["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert policy["spec"]["egress"][3] == target


def test_default_run_pod_policy_is_accepted_by_the_apiserver(control_plane: ControlPlane, k8s_namespace: str) -> None:
    policy = one(render(namespace=k8s_namespace), "NetworkPolicy", POLICY)
    out = control_plane.kubectl(
        "apply", "--dry-run=server", "-n", k8s_namespace, "-f", "-", input=yaml.safe_dump(policy), check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("(server dry run)"), out.stdout

    # The dry run is a real check: the apiserver refuses an `except` outside its `cidr`.
    broken = yaml.safe_load(yaml.safe_dump(policy))
    _internet_rule(broken)["except"].append("fd00::/8")
    refused = control_plane.kubectl(
        "apply", "--dry-run=server", "-n", k8s_namespace, "-f", "-", input=yaml.safe_dump(broken), check=False
    )
    assert refused.returncode != 0
    assert "except" in refused.stderr, refused.stderr
