"""KubernetesLauncher against a fake apiserver and SQLite: the row first, the resource second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from supertest_api.kubernetes.launcher import KubernetesLauncher

from supertest.admission import QueueFull
from supertest.bus.memory import MemoryEventBus
from supertest.db import runs as run_repo
from supertest.db.engine import make_engine, make_session_factory, session_scope
from supertest.db.models import Base, RunRecord
from supertest.kube.client import KubeError
from supertest.launch import RunAlreadyFinished, RunRequest, ScriptSpec
from supertest.settings import ApiSettings


class FakeKube:
    def __init__(self, deny: str | None = None, waiting: int = 0) -> None:
        self.deny = deny
        self.items: list[dict[str, Any]] = [{"metadata": {}, "spec": {}, "status": {}} for _ in range(waiting)]
        self.created: list[tuple[str, dict[str, Any]]] = []
        self.patched: list[tuple[str, dict[str, Any]]] = []
        self.rows_at_create: list[int] = []

    async def list(self, path: str, label_selector: str | None = None) -> list[dict[str, Any]]:
        return self.items if path.endswith("/testruns") else []

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.deny:
            raise KubeError(429, "TooManyRequests", f'admission webhook "q" denied the request: {self.deny}')
        self.created.append((path, body))
        return {**body, "metadata": {**body["metadata"], "uid": "uid-9"}}

    async def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.patched.append((path, body))
        return {}

    async def close(self) -> None:
        pass


def _launcher(tmp_path: Path, kube: FakeKube, queued: int = 50) -> KubernetesLauncher:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    Base.metadata.create_all(engine)
    settings = ApiSettings(RUN_BACKEND="local", SUPERTEST_NAMESPACE="runs", QUEUED_CAPACITY=queued)
    return KubernetesLauncher(settings, make_session_factory(engine), MemoryEventBus(), kube=kube)  # type: ignore[arg-type]


REQUEST = RunRequest(kind="test", scripts=(ScriptSpec("t", "test()"),), title="T")


async def test_submit_inserts_the_queued_row_then_creates_the_testrun(tmp_path: Path) -> None:
    kube = FakeKube()
    launcher = _launcher(tmp_path, kube)
    record = await launcher.submit(REQUEST)
    assert record.phase == "Queued" and record.trigger == "api" and record.id.startswith("tr-")
    path, manifest = kube.created[0]
    assert path == "/apis/supertest.dev/v1alpha1/namespaces/runs/testruns"
    assert manifest["metadata"]["name"] == record.id
    with session_scope(launcher._sessions) as session:
        row = run_repo.get(session, record.id)
        assert (row.namespace, row.k8s_uid) == ("runs", "uid-9")


async def test_queue_full_from_the_precheck_and_from_the_webhook(tmp_path: Path) -> None:
    with pytest.raises(QueueFull):
        await _launcher(tmp_path / "a", FakeKube(waiting=2), queued=2).submit(REQUEST)
    launcher = _launcher(tmp_path / "b", FakeKube(deny=str(QueueFull(7, 7))))
    with pytest.raises(QueueFull) as full:
        await launcher.submit(REQUEST)
    assert (full.value.queued, full.value.capacity) == (7, 7)
    with session_scope(launcher._sessions) as session:
        assert session.query(RunRecord).count() == 0  # the row went away with the denied create


async def test_cancel_patches_spec_cancel(tmp_path: Path) -> None:
    kube = FakeKube()
    launcher = _launcher(tmp_path, kube)
    record = await launcher.submit(REQUEST)
    cancelled = await launcher.cancel(record.id)
    assert cancelled.cancel_requested
    assert kube.patched == [
        (f"/apis/supertest.dev/v1alpha1/namespaces/runs/testruns/{record.id}", {"spec": {"cancel": True}})
    ]
    with session_scope(launcher._sessions) as session:
        run_repo.upsert(session, record.id, {"phase": "Passed"})
    with pytest.raises(RunAlreadyFinished):
        await launcher.cancel(record.id)
