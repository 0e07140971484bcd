"""Node loss policy (pure): which run pods are on a node that is gone or has not been Ready for long enough."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from supertest_operator.handlers.node_loss import lost_pods, node_lost

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def node(status: str, since: datetime, reason: str = "NodeStatusUnknown") -> dict[str, Any]:
    ready = {"type": "Ready", "status": status, "reason": reason, "lastTransitionTime": since.isoformat()}
    return {"metadata": {"name": "n1"}, "status": {"conditions": [ready]}}


def pod(name: str, node_name: str | None, phase: str = "Running") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": {"nodeName": node_name}, "status": {"phase": phase}}


def test_a_ready_node_is_never_lost() -> None:
    assert node_lost(node("True", NOW - timedelta(hours=1)), NOW, 60) is None


def test_a_not_ready_node_is_lost_only_after_the_grace() -> None:
    assert node_lost(node("Unknown", NOW - timedelta(seconds=59)), NOW, 60) is None
    why = node_lost(node("Unknown", NOW - timedelta(seconds=60)), NOW, 60)
    assert why is not None and "Ready=Unknown (NodeStatusUnknown)" in why
    assert node_lost(node("False", NOW - timedelta(seconds=61), "KubeletNotReady"), NOW, 60) is not None


def test_a_node_that_is_gone_is_lost_at_once() -> None:
    assert node_lost(None, NOW, 60) == "the node no longer exists"


def test_a_node_without_a_ready_condition_is_not_judged() -> None:
    assert node_lost({"metadata": {"name": "n1"}, "status": {}}, NOW, 0) is None


def test_only_live_bound_pods_on_lost_nodes_are_given_up() -> None:
    nodes = {"dead": node("Unknown", NOW - timedelta(minutes=5)), "ok": node("True", NOW - timedelta(minutes=5))}
    pods = [
        pod("on-dead", "dead"),
        pod("on-dead-finished", "dead", phase="Succeeded"),
        pod("on-ok", "ok"),
        pod("unbound", None, phase="Pending"),
        pod("on-vanished-node", "vanished"),
    ]
    found = [(p["metadata"]["name"], n) for p, n, _ in lost_pods(pods, nodes, NOW, 60)]
    assert found == [("on-dead", "dead"), ("on-vanished-node", "vanished")]
