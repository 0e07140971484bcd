"""The cluster both latency benchmarks run on: a real control plane, Redis, the node agent, every CRD, and our
operator (pods run `true`: the benchmarks measure the control loop, not Playwright)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client as k8s

from tests.e2e import operator_proc
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
def bench_operator(
    cp: ControlPlane, redis_url: str, overrides: dict[str, str]
) -> Iterator[tuple[str, OperatorProcess, Path]]:
    """Every CRD, a `bench` namespace and our operator watching it, on `cp` (with the node agent or a real node);
    yields (namespace, operator, its log) and stops the operator afterwards."""
    log_path = Path(tempfile.mkdtemp(prefix="supertest-bench-")) / "operator.log"
    cp.install_crds()
    namespace = cp.create_namespace("bench")
    env = operator_env(
        kubeconfig=cp.kubeconfig_path,
        namespace=namespace,
        redis_url=redis_url,
        database_url="",
        s3_env={},
        playwright_env={},
        overrides=overrides,
    )
    operator = OperatorProcess(env=env, log_path=log_path)
    try:
        yield namespace, operator.start(), log_path
    finally:
        operator.stop()


@contextmanager
def operator_cluster(overrides: dict[str, str]) -> Iterator[BenchCluster]:
    """`overrides`: the operator's settings beyond operator_env's (RUNNING_CAPACITY, LOG_LEVEL, ...)."""
    with ControlPlane.start() as cp, RedisServer.start() as redis:
        agent = NodeAgent(cp.kubeconfig_path).start()
        try:
            with bench_operator(cp, redis.url, {"RUNNER_COMMAND": "true", **overrides}) as (namespace, operator, log):
                yield BenchCluster(cp=cp, namespace=namespace, operator=operator, api=cp.api_client(), log_path=log)
        finally:
            agent.stop()


def use_operator_source(src: Path, overrides: dict[str, str]) -> None:
    """Run the operator from another checkout (a baseline): its working directory and first on its sys.path."""
    src = src.resolve()
    operator_proc.REPO = src  # the operator's working directory: first on its sys.path with `python -m`
    overrides["PYTHONPATH"] = f"{src}{os.pathsep}{src / 'operator'}"
    print(f"operator from {src}")
