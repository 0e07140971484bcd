"""The e2e tier on a real kubelet: containerd + runc run the images built from our Dockerfiles.

Overrides `e2e`, `k8s_namespace` and `k8s_api` of the parent conftest, so the scenarios written for the node
agent run here unchanged against real containers (see test_scenarios.py). Postgres, Redis and the S3 server are
the same real servers as elsewhere, bound on the node IP, where the pods reach them.

The node is started once per session (`real_node`); `test_zz_host_restored.py` stops it as the tier's last test
and checks that the machine is as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from supertest.db.migrate import upgrade
from tests.e2e.conftest import E2eEnv
from tests.k8s.controlplane import ControlPlaneError, namespace_for_test
from tests.k8s.images import BuiltImages, ImageBuildError, ensure_images
from tests.k8s.node import NODE_IP, RealNode
from tests.services.postgres import PostgresServer
from tests.services.redis_server import RedisServer
from tests.services.s3 import S3Server


@pytest.fixture(scope="session")
def built_images() -> BuiltImages:
    failure = None
    try:
        images = ensure_images()
    except ImageBuildError as exc:
        failure = str(exc)
    if failure is not None:
        pytest.fail(f"images could not be built: {failure}", pytrace=False)
    return images


@pytest.fixture(scope="session")
def real_node(built_images: BuiltImages) -> Iterator[RealNode]:
    failure = None
    try:
        node = RealNode.start(built_images)
    except ControlPlaneError as exc:
        failure = str(exc)
    if failure is not None:
        pytest.fail(f"real node unavailable: {failure}", pytrace=False)
    print(f"\n[node] control plane + node Ready in {node.startup_seconds:.1f}s")
    yield node
    leftovers = node.stop()  # a no-op when test_zz_host_restored already stopped it
    assert not leftovers, f"the node left host state behind: {leftovers}"


@pytest.fixture(scope="session")
def node_services(real_node: RealNode) -> Iterator[tuple[PostgresServer, RedisServer, S3Server]]:
    with (
        PostgresServer.start(host=NODE_IP) as postgres,
        RedisServer.start(host=NODE_IP) as redis,
        S3Server.start(host=NODE_IP) as s3,
    ):
        yield postgres, redis, s3


@pytest.fixture(scope="session")
def e2e(
    real_node: RealNode,
    node_services: tuple[PostgresServer, RedisServer, S3Server],
    built_images: BuiltImages,
    tmp_path_factory: pytest.TempPathFactory,
) -> E2eEnv:
    postgres, redis, s3 = node_services
    real_node.cp.install_crds()
    database_url = postgres.create_database()
    upgrade(database_url)
    suffix = uuid.uuid4().hex[:8]
    buckets = {"test": f"e2e-tests-{suffix}", "job": f"e2e-jobs-{suffix}"}
    for bucket in buckets.values():
        s3.create_bucket(bucket)
    return E2eEnv(
        cp=real_node.cp,
        agent=None,
        redis_url=redis.url,
        database_url=database_url,
        s3=s3,
        buckets=buckets,
        playwright={},  # the runner image carries Playwright, Chromium and ffmpeg
        tmp=tmp_path_factory.mktemp("e2e-kubelet"),
        runner_image=built_images.runner,
    )


@pytest.fixture
def k8s_namespace(real_node: RealNode, request: pytest.FixtureRequest) -> Iterator[str]:
    name = real_node.cp.create_namespace(namespace_for_test(request.node.name))
    yield name
    real_node.cp.delete_namespace(name, timeout=0)


@pytest.fixture
def k8s_api(real_node: RealNode) -> Iterator[k8s.ApiClient]:
    api = real_node.cp.api_client()
    try:
        yield api
    finally:
        api.close()  # type: ignore[no-untyped-call]
