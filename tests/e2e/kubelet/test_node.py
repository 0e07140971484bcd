"""A pod of the locally built runner image on the real kubelet: the node is Ready, `kubectl logs` and `kubectl
exec` work, and the pod's security settings are what the container actually gets (observed from inside)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.k8s.images import BuiltImages
from tests.k8s.node import NODE_NAME, RealNode
from tests.k8s.wait import wait_for

MEMORY_LIMIT_BYTES = 300 * 1024 * 1024
# The first test of the tier on a cold machine builds both images (minutes).
pytestmark = pytest.mark.timeout(1800)


def probe_pod(image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe"},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000},
            "containers": [
                {
                    "name": "probe",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", 'echo "probe up as $(id -u)"; exec sleep 3600'],
                    "securityContext": {
                        "readOnlyRootFilesystem": True,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "resources": {"limits": {"memory": "300Mi", "cpu": "500m"}},
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def test_runner_image_pod_on_the_real_kubelet(
    real_node: RealNode, built_images: BuiltImages, k8s_namespace: str
) -> None:
    cp, ns = real_node.cp, k8s_namespace
    nodes = cp.kubectl("get", "nodes", "-o", "wide").stdout
    assert NODE_NAME in nodes and " Ready " in nodes, nodes

    cp.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump(probe_pod(built_images.runner)))
    cp.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/probe", "--timeout=120s", timeout=130)

    wait_for(
        lambda: "probe up as 1000" in cp.kubectl("-n", ns, "logs", "probe").stdout,
        timeout=30,
        message="the container's first line in kubectl logs",
    )

    def exec_(*argv: str) -> tuple[int, str]:
        out = cp.kubectl("-n", ns, "exec", "probe", "--", *argv, check=False)
        return out.returncode, (out.stdout + out.stderr).strip()

    assert exec_("id", "-u") == (0, "1000")
    code, message = exec_("touch", "/probe-file")
    assert code != 0 and "Read-only file system" in message, message
    assert exec_("sh", "-c", "touch /tmp/ok && echo writable")[1] == "writable"  # the emptyDir is not
    # cgroup v1 (this machine) or v2: the limit is the container's own, not the host's.
    code, limit = exec_(
        "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"
    )
    assert code == 0 and int(limit) == MEMORY_LIMIT_BYTES, limit
    # Its own PID namespace: PID 1 is the container's shell/sleep, not the host's init.
    assert exec_("cat", "/proc/1/comm")[1] in ("sleep", "sh")
    # Services and cluster DNS as on any cluster: the API's Service name resolves to its ClusterIP.
    code, resolved = exec_("getent", "hosts", "kubernetes.default.svc.cluster.local")
    assert code == 0 and resolved.split()[0] == "10.0.0.1", resolved
    # No route off this machine: the pod knows the bridge, the Service range and the node, and nothing else.
    code, routes = exec_("cat", "/proc/net/route")
    destinations = [line.split()[1] for line in routes.splitlines()[1:]]
    assert "00000000" not in destinations, routes
