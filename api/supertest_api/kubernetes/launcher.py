"""KubernetesLauncher: the API's RunLauncher for RUN_BACKEND=kubernetes. Runs become TestRun/JobRun resources.

Decision: the launcher inserts the Queued `runs` row itself, BEFORE creating the resource, so
GET /api/runs/{id} answers the moment submit returns, and the operator's later upserts (same key) can only
move it forward; if the create fails, the row is deleted again. The queued capacity is pre-checked here
(a list call) and enforced by the operator's validating webhook, whose refusal with QueueFull's code (429)
becomes QueueFull.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from sqlalchemy.orm import Session, sessionmaker

from supertest import variables
from supertest.admission import QueueFull, check_queue_capacity
from supertest.bus.base import EventBus
from supertest.db import runs as run_repo
from supertest.db.engine import in_session
from supertest.db.ids import new_run_id
from supertest.db.models import RunRecord, utcnow
from supertest.kube import jobref, testjobs
from supertest.kube.client import KubeApi, KubeError, run_path
from supertest.kube.counting import count_waiting
from supertest.kube.manifests import run_manifest
from supertest.kube.names import RUN_RESOURCES, resource_for_kind
from supertest.launch import LaunchedRun, RunAlreadyFinished, RunRequest
from supertest.phases import Phase
from supertest.settings import ApiSettings

log = structlog.get_logger("supertest_api.kubernetes.launcher")
T = TypeVar("T")


def queue_full_from(error: KubeError) -> QueueFull | None:
    """The operator webhook's refusal (QueueFull's code) as the API's QueueFull; None for any other error."""
    return QueueFull.from_refusal(error.status, error.message)


class KubernetesLauncher:
    def __init__(
        self,
        settings: ApiSettings,
        session_factory: sessionmaker[Session],
        bus: EventBus,
        kube: KubeApi | None = None,
        kubeconfig: str | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = session_factory
        self._bus = bus
        self._kube = kube
        self._kubeconfig = kubeconfig
        self._namespace = settings.kube_namespace

    async def start(self) -> None:
        if self._kube is None:
            self._kube = await KubeApi.connect(self._kubeconfig)

    async def stop(self) -> None:
        if self._kube is not None:
            await self._kube.close()
            self._kube = None

    @property
    def kube(self) -> KubeApi:
        if self._kube is None:
            raise RuntimeError("KubernetesLauncher.start() was not awaited")
        return self._kube

    async def _db(self, fn: Callable[[Session], T]) -> T:
        return await in_session(self._sessions, fn)

    async def waiting_count(self) -> int:
        lists = await asyncio.gather(*(self.kube.list(run_path(r, self._namespace)) for r in RUN_RESOURCES))
        return sum(count_waiting(items) for items in lists)

    async def submit(self, request: RunRequest) -> LaunchedRun:
        check_queue_capacity(await self.waiting_count(), self._settings.queued_capacity)
        run_id = new_run_id(request.kind)
        manifest = run_manifest(run_id, request)
        if request.job_ref:
            manifest["spec"] = await self._testjob_spec(request.job_ref, manifest["spec"])
        await self._add_variables(manifest["spec"], request.job_id)
        resource = resource_for_kind(request.kind)

        row = run_repo.queued_record(run_id, request, self._namespace, spec=manifest["spec"])
        await self._db(lambda s: run_repo.insert_new(s, row))
        if self._settings.fault_kill_after_row_insert:
            os.kill(os.getpid(), signal.SIGKILL)  # test-only: a crash in the worst place (see ApiSettings)
        try:
            created = await self.kube.create(run_path(resource, self._namespace), manifest)
        except KubeError as exc:
            await self._db(lambda s: _delete_row(s, run_id))
            full = queue_full_from(exc)
            if full is not None:
                raise full from exc
            raise
        except BaseException:
            await self._db(lambda s: _delete_row(s, run_id))
            raise
        uid = str((created.get("metadata") or {}).get("uid", ""))
        launched = await self._db(lambda s: run_repo.launched(run_repo.upsert(s, run_id, {"k8s_uid": uid})))
        log.info("run_submitted", run_id=run_id, kind=request.kind, namespace=self._namespace)
        return launched

    async def _add_variables(self, spec: dict[str, Any], job_id: str | None) -> None:
        """Project and job variables into spec.env (the run's own entries win); secrets as secretKeyRefs."""
        extra = await self._db(lambda s: variables.k8s_env(variables.for_run(s, job_id)))
        if not extra:
            return
        present = {e["name"] for e in spec.get("env") or []}
        spec["env"] = [*(spec.get("env") or []), *(e for e in extra if e["name"] not in present)]

    async def _testjob_spec(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """A run of a TestJob gets what its scheduled runs get (tests and runTemplate), plus the options given.

        Without that TestJob the spec keeps its jobRef, which the operator resolves to a stored job or fails with
        the reason.
        """
        testjob = await jobref.testjob_spec(self.kube, self._namespace, name)
        if testjob is None:
            return spec
        # 0 is what the API sends when nothing was asked: the TestJob's runTemplate decides then.
        options = {k: v for k, v in spec.items() if k not in ("jobRef", "tests") and v not in (0, None)}
        return testjobs.jobrun_spec(testjob, options)

    async def cancel(self, run_id: str) -> LaunchedRun:
        record = await self._db(lambda s: run_repo.get(s, run_id))
        if Phase(record.phase).is_terminal and Phase(record.phase) is not Phase.ERROR:
            raise RunAlreadyFinished(run_id, record.phase)
        resource = resource_for_kind(record.kind)
        namespace = record.namespace or self._namespace
        try:
            await self.kube.merge_patch(run_path(resource, namespace, run_id), {"spec": {"cancel": True}})
        except KubeError as exc:
            if not exc.not_found:
                raise
            # The resource is gone (deleted or expired): nothing runs any more.
            if Phase(record.phase).is_terminal:
                raise RunAlreadyFinished(run_id, record.phase) from exc
            return await self._db(lambda s: run_repo.launched(_cancel_row(s, run_id)))
        return await self._db(lambda s: run_repo.launched(run_repo.request_cancel(s, run_id)))


def _delete_row(session: Session, run_id: str) -> None:
    row = session.get(RunRecord, run_id)
    if row is not None:
        session.delete(row)


def _cancel_row(session: Session, run_id: str) -> RunRecord:
    values: dict[str, Any] = {"phase": Phase.CANCELLED.value, "completed_at": utcnow(), "cancel_requested": True}
    return run_repo.upsert(session, run_id, values)
