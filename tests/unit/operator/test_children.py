"""What `delete_children` removes when an attempt ends in Error without having run (a unit test of our own logic:
the kube client is a recording stand-in). The real apiserver runs this path in tests/e2e/test_refused_children.py."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from supertest_operator.builders import ShardRole, child_name, shard_pod_name, token_secret_name
from supertest_operator.handlers.children import delete_children
from supertest_operator.run import RunRef
from supertest_operator.settings import OperatorSettings

from supertest.kube.client import KubeError
from supertest.kube.names import TESTRUN

REF = RunRef(TESTRUN, "team-a", "demo", "uid-1")


class RecordingKube:
    """Answers every DELETE with 404 for the paths in `missing`, records the rest."""

    def __init__(self, missing: frozenset[str] = frozenset()) -> None:
        self.missing = missing
        self.deleted: list[str] = []

    async def delete(self, path: str, **_: Any) -> None:
        if path in self.missing:
            raise KubeError(404, "NotFound", f"{path} not found")
        self.deleted.append(path)


@dataclass
class Ctx:
    kube: RecordingKube
    settings: OperatorSettings
    wake: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
def plain_settings(monkeypatch: pytest.MonkeyPatch) -> OperatorSettings:
    for var in ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT", "INGEST_URL", "RUN_TOKEN_KEY"):
        monkeypatch.delenv(var, raising=False)
    return OperatorSettings(REDIS_URL="redis://redis:6379/0", RUNNER_DIRECT_CREDENTIALS="true")


def _with_ingest(settings: OperatorSettings) -> OperatorSettings:
    return settings.model_copy(update={"ingest_url": "http://supertest-api:8000"})


async def test_the_token_secret_goes_with_the_pod_and_configmap(plain_settings: OperatorSettings) -> None:
    ctx = Ctx(RecordingKube(), _with_ingest(plain_settings))
    await delete_children(ctx, REF, "demo-a2")  # type: ignore[arg-type]
    assert ctx.kube.deleted == [
        "/api/v1/namespaces/team-a/configmaps/demo-scripts",
        "/api/v1/namespaces/team-a/secrets/demo-a2-token",
        "/api/v1/namespaces/team-a/pods/demo-a2",
    ]
    assert ctx.wake.is_set()


async def test_no_delete_that_must_404(plain_settings: OperatorSettings) -> None:
    """No ConfigMap asked for (scripts in the pod), no ingest (no token): a refused pod leaves nothing to delete."""
    ctx = Ctx(RecordingKube(), plain_settings)
    await delete_children(ctx, REF, "demo-a1", pod=False, configmap=False)  # type: ignore[arg-type]
    assert ctx.kube.deleted == []


async def test_a_child_that_was_never_made_is_not_an_error(plain_settings: OperatorSettings) -> None:
    missing = frozenset({"/api/v1/namespaces/team-a/configmaps/demo-scripts"})
    ctx = Ctx(RecordingKube(missing), _with_ingest(plain_settings))
    await delete_children(ctx, REF, "demo-a1")  # type: ignore[arg-type]
    assert ctx.kube.deleted == [
        "/api/v1/namespaces/team-a/secrets/demo-a1-token",
        "/api/v1/namespaces/team-a/pods/demo-a1",
    ]


async def test_a_refused_pod_leaves_its_token_and_configmap_to_delete(plain_settings: OperatorSettings) -> None:
    """Admission made the token and the ConfigMap, then the pod was refused: both go, and no pod DELETE is sent."""
    ctx = Ctx(RecordingKube(), _with_ingest(plain_settings))
    await delete_children(ctx, REF, child_name(REF.name, 3), pod=False)  # type: ignore[arg-type]
    assert ctx.kube.deleted == [
        "/api/v1/namespaces/team-a/configmaps/demo-scripts",
        "/api/v1/namespaces/team-a/secrets/demo-a3-token",
    ]


async def test_a_merge_pod_that_never_started_takes_its_own_token(plain_settings: OperatorSettings) -> None:
    """A sharded run's merge pod speaks for its run: its token is the one minted for it, not the run's attempt's."""
    merge_pod = shard_pod_name(REF.name, ShardRole(total=2), 1)
    ctx = Ctx(RecordingKube(), _with_ingest(plain_settings))
    await delete_children(ctx, REF, merge_pod)  # type: ignore[arg-type]
    assert ctx.kube.deleted[1:] == [
        f"/api/v1/namespaces/team-a/secrets/{token_secret_name(REF.name, 1, ShardRole(total=2))}",
        f"/api/v1/namespaces/team-a/pods/{merge_pod}",
    ]
