"""The raw deploy/rbac/operator.yaml on the real apiserver: the operator may create webhook configurations and
patch only its own (WEBHOOK_CONFIG_NAME), as the chart's ClusterRole allows; no get/list/watch or other names."""

from __future__ import annotations

import yaml

from tests.k8s.controlplane import ControlPlane
from tests.k8s.rbac import deploy_rbac_docs, webhook_config_name


def _can(cp: ControlPlane, namespace: str, *args: str) -> bool:
    out = cp.kubectl("auth", "can-i", *args, f"--as=system:serviceaccount:{namespace}:supertest-operator", check=False)
    return out.stdout.strip() == "yes"


def test_operator_may_patch_only_its_own_webhook_configuration(control_plane: ControlPlane, k8s_namespace: str) -> None:
    control_plane.kubectl(
        "apply", "-f", "-", input=yaml.safe_dump_all(deploy_rbac_docs("operator.yaml", k8s_namespace))
    )
    ours = webhook_config_name(k8s_namespace)
    for kind in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
        assert _can(control_plane, k8s_namespace, "create", kind)
        assert _can(control_plane, k8s_namespace, "patch", f"{kind}/{ours}")
        assert not _can(control_plane, k8s_namespace, "patch", f"{kind}/someone-else.example.dev")
        assert not _can(control_plane, k8s_namespace, "delete", f"{kind}/{ours}")
        for verb in ("get", "list", "watch"):
            assert not _can(control_plane, k8s_namespace, verb, kind), verb
