"""The cluster both latency benchmarks run on: a real control plane, Redis, the node agent, every CRD, and our
operator (pods run `true`: the benchmarks measure the control loop, not Playwright)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client as k8s

from tests.e2e.operator_proc import OperatorProcess, operator_env
from tests.k8s.controlplane import ControlPlane
from tests.k8s.node_agent import NodeAgent
from tests.services.redis_server import RedisServer


@dataclass
class BenchCluster:
    cp: ControlPlane
    namespace: str
    operator: OperatorProcess
    api: k8s.ApiClient
    log_path: Path


@contextmanager
def operator_cluster(overrides: dict[str, str]) -> Iterator[BenchCluster]:
    """`overrides`: the operator's settings beyond operator_env's (RUNNING_CAPACITY, LOG_LEVEL, ...)."""
    log_path = Path(tempfile.mkdtemp(prefix="supertest-bench-")) / "operator.log"
    with ControlPlane.start() as cp, RedisServer.start() as redis:
        agent = NodeAgent(cp.kubeconfig_path).start()
        operator: OperatorProcess | None = None
        try:
            cp.install_crds()
            namespace = cp.create_namespace("bench")
            env = operator_env(
                kubeconfig=cp.kubeconfig_path,
                namespace=namespace,
                redis_url=redis.url,
                database_url="",
                s3_env={},
                playwright_env={},
                overrides={"RUNNER_COMMAND": "true", **overrides},
            )
            operator = OperatorProcess(env=env, log_path=log_path).start()
            yield BenchCluster(cp=cp, namespace=namespace, operator=operator, api=cp.api_client(), log_path=log_path)
        finally:
            if operator is not None:
                operator.stop()
            agent.stop()
