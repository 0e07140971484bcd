"""The tier's last test (files run in name order): stop the real node and prove the machine is as it was before
the node started, as a developer's own machine must be after `scripts/test.sh`."""

from __future__ import annotations

from pathlib import Path

from tests.k8s.hoststate import HostSnapshot, kubepods_cgroups, mountpoints, netns_names, read_sysctls
from tests.k8s.node import BRIDGE, NODE_IP, RealNode


def test_host_state_is_restored_when_the_node_stops(real_node: RealNode) -> None:
    work_dir = real_node.work_dir
    before = real_node.snapshot
    # While it ran, the node did change the host (else this test would prove nothing).
    during = HostSnapshot.take(RealNode.owned_prefixes(work_dir))
    assert before.diff(during), "a running node changes sysctls, iptables, links or mounts"

    leftovers = real_node.stop()

    assert leftovers == [], "\n".join(leftovers)
    assert read_sysctls() == before.sysctls
    after = HostSnapshot.take(RealNode.owned_prefixes(work_dir))
    assert after.iptables.keys() == before.iptables.keys()
    assert not kubepods_cgroups()
    assert not [ns for ns in netns_names() if ns.startswith("cni-")]
    assert not [p for p in mountpoints(RealNode.owned_prefixes(work_dir)) if p != "/run/netns"]
    assert BRIDGE not in after.links
    assert f"{NODE_IP}/32" not in after.lo_addresses
    assert not work_dir.exists() and not Path("/run/supertest-node").exists()
