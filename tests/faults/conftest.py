"""The fault tier's fixtures: its own Redis, Postgres and S3 server (stopped and restarted by the scenarios, so no
other tier shares them), the session's control plane and node agent, and the e2e tier's cluster helpers.

The node agent (tests/k8s/node_agent.py, pods as local processes) stands in for kubelet here on purpose: each
scenario runs a burst of 20-30 runs, and container start-up on a real node would swamp what is measured.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import (  # noqa: F401  fixtures shared with the e2e tier
    E2eEnv,
    api,
    cluster,
    make_env,
    pytest_runtest_makereport,
    start_operator,
)
from tests.faults.harness import OUTCOMES, summary_table
from tests.k8s.controlplane import ControlPlane
from tests.k8s.node_agent import NodeAgent
from tests.services.postgres import PostgresServer
from tests.services.redis_server import RedisServer
from tests.services.s3 import S3Server


@pytest.fixture(scope="session")
def faults_redis() -> Iterator[RedisServer]:
    with RedisServer.start() as server:
        yield server


@pytest.fixture(scope="session")
def faults_postgres() -> Iterator[PostgresServer]:
    with PostgresServer.start() as server:
        yield server


@pytest.fixture(scope="session")
def faults_s3() -> Iterator[S3Server]:
    with S3Server.start() as server:
        yield server


@pytest.fixture(scope="session")
def e2e(
    control_plane: ControlPlane,
    node_agent: NodeAgent,
    faults_redis: RedisServer,
    faults_postgres: PostgresServer,
    faults_s3: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> E2eEnv:
    return make_env(control_plane, node_agent, faults_redis.url, faults_postgres, faults_s3, tmp_path_factory)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if OUTCOMES:
        terminalreporter.write_sep("=", "fault tier summary (issue #13)")
        terminalreporter.write_line(summary_table(OUTCOMES))
