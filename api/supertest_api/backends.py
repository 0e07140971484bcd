"""Run backends, picked by RUN_BACKEND. Imported lazily so local mode never loads Kubernetes code."""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from supertest.bus.base import EventBus
from supertest.launch import RunLauncher
from supertest.settings import ApiSettings, RunBackend
from supertest_api.jobs.cluster import TestJobCluster

# module:factory; the factory takes (settings, session_factory, bus) and returns a RunLauncher.
BACKENDS: dict[RunBackend, str] = {
    RunBackend.local: "supertest.local.dispatcher:LocalDispatcher",
    RunBackend.kubernetes: "supertest.kube.launcher:KubernetesLauncher",
}


class BackendUnavailable(RuntimeError):
    pass


def build_launcher(settings: ApiSettings, session_factory: sessionmaker[Session], bus: EventBus) -> RunLauncher:
    target = BACKENDS[settings.run_backend]
    module_name, _, attr = target.partition(":")
    try:
        factory: Any = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise BackendUnavailable(
            f"RUN_BACKEND={settings.run_backend.value} needs {target}, which is not available: {exc}"
        ) from exc
    launcher: RunLauncher = factory(settings, session_factory, bus)
    return launcher


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
