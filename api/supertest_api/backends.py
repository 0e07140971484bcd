"""Run backends, picked by RUN_BACKEND and named here explicitly (no import by string).

Each factory imports its backend when called, so local mode never loads Kubernetes code.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from supertest.bus.base import EventBus
from supertest.launch import RunLauncher
from supertest.settings import ApiSettings, RunBackend
from supertest_api.kubernetes.testjobs import TestJobCluster

LauncherFactory = Callable[[ApiSettings, sessionmaker[Session], EventBus], RunLauncher]


def _local(settings: ApiSettings, session_factory: sessionmaker[Session], bus: EventBus) -> RunLauncher:
    from supertest.local.dispatcher import LocalDispatcher

    return LocalDispatcher(settings, session_factory, bus)


def _kubernetes(settings: ApiSettings, session_factory: sessionmaker[Session], bus: EventBus) -> RunLauncher:
    from supertest_api.kubernetes.launcher import KubernetesLauncher

    return KubernetesLauncher(settings, session_factory, bus)


BACKENDS: dict[RunBackend, LauncherFactory] = {RunBackend.local: _local, RunBackend.kubernetes: _kubernetes}


class BackendUnavailable(RuntimeError):
    pass


def build_launcher(settings: ApiSettings, session_factory: sessionmaker[Session], bus: EventBus) -> RunLauncher:
    factory = BACKENDS[settings.run_backend]
    try:
        return factory(settings, session_factory, bus)
    except ImportError as exc:  # an image built without a backend's dependencies
        raise BackendUnavailable(
            f"RUN_BACKEND={settings.run_backend.value} needs a backend that is not available: {exc}"
        ) from exc


def build_testjob_cluster(settings: ApiSettings, launcher: RunLauncher) -> TestJobCluster | None:
    """Kubernetes mode: TestJobs are written with the started launcher's client (one client, one loop)."""
    if settings.is_local:
        return None
    kube = getattr(launcher, "kube", None)
    if kube is None:
        raise BackendUnavailable(
            f"RUN_BACKEND={settings.run_backend.value}: the launcher {type(launcher).__name__} has no Kubernetes "
            "client (`kube`) to write the TestJobs of scheduled jobs with"
        )
    return TestJobCluster(kube, settings.kube_namespace)
