"""pytest plugin: a real Kubernetes control plane and a node agent for integration/e2e tests.

Enable with `pytest_plugins = ["tests.k8s.plugin"]` in tests/conftest.py (or `-p tests.k8s.plugin`).

Fixtures:
* `control_plane` (session): a started `ControlPlane`; builds the binaries first if the cache is empty and
  fails loudly (naming the failed step) if that build fails. Never skips.
* `node_agent` (session): a `NodeAgent` registered as a Node of `control_plane`.
* `k8s_namespace` (function): a fresh namespace named after the test, with its default ServiceAccount ready;
  deleted afterwards without waiting (the namespace controller finishes it in the background).
* `k8s_api` (function): an admin `kubernetes.client.ApiClient`, closed after the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from tests.k8s import procs
from tests.k8s.controlplane import BuildError, ControlPlane, ControlPlaneError, namespace_for_test
from tests.k8s.node_agent import NodeAgent


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    failure = None
    try:
        cp = ControlPlane.start()
    except (BuildError, ControlPlaneError) as exc:
        failure = str(exc)
    if failure is not None:  # outside the except block: no chained traceback hiding the message
        pytest.fail(f"Kubernetes control plane unavailable: {failure}", pytrace=False)
    print(f"\n[k8s] control plane up in {cp.startup_seconds:.2f}s at {cp.server_url}")
    try:
        yield cp
    finally:
        cp.stop()
    leftovers = cp.leftovers()
    assert not leftovers, f"control plane left resources behind: {leftovers}"


@pytest.fixture(scope="session")
def node_agent(control_plane: ControlPlane) -> Iterator[NodeAgent]:
    agent = NodeAgent(control_plane.kubeconfig_path).start()
    try:
        yield agent
    finally:
        pids = agent.running_pids()
        agent.stop()
    alive = [pid for pid in pids if procs.is_running(pid)]
    assert not alive, f"node agent left pod processes running: {alive}"
    assert not agent.errors, f"node agent hit unexpected errors: {agent.errors}"


@pytest.fixture
def k8s_namespace(control_plane: ControlPlane, request: pytest.FixtureRequest) -> Iterator[str]:
    name = control_plane.create_namespace(namespace_for_test(request.node.name))
    yield name
    # Not waited for: the namespace controller sleeps 5 s before it deletes anything (see delete_namespace).
    control_plane.delete_namespace(name, timeout=0)


@pytest.fixture
def k8s_api(control_plane: ControlPlane) -> Iterator[k8s.ApiClient]:
    api = control_plane.api_client()
    try:
        yield api
    finally:
        api.close()  # type: ignore[no-untyped-call]
