"""Everything the lifespan builds and the dependencies hand out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from supertest.artifacts import ArtifactStore
from supertest.bus.base import EventBus
from supertest.crypto import SecretBox
from supertest.launch import RunLauncher
from supertest.settings import ApiSettings
from supertest_api.artifacts_origin.links import ArtifactLinks
from supertest_api.keycache import KeyCache
from supertest_api.kubernetes.testjobs import TestJobCluster
from supertest_api.session import SessionSigner


@dataclass(slots=True)
class AppResources:
    settings: ApiSettings
    engine: Engine
    session_factory: sessionmaker[Session]
    bus: EventBus
    launcher: RunLauncher
    stores: dict[str, ArtifactStore]  # by run kind: "test" | "job"
    signer: SessionSigner
    # Encrypts secrets and channel credentials at rest (SECRETS_KEY; a local key file in local mode).
    secrets: SecretBox
    # API keys looked up in the last API_KEY_CACHE_SECONDS, to auth.service.Principal (which this module cannot
    # import: auth depends on it).
    key_cache: KeyCache[Any]
    # Mints artifacts-origin URLs (None without ARTIFACTS_URL: then no run files are reachable through the API).
    artifact_links: ArtifactLinks | None = None
    # Kubernetes mode: writes the TestJob of each scheduled job (set once the launcher has started).
    testjobs: TestJobCluster | None = None
    # Local mode: wakes the in-process scheduler after a job's schedule changed.
    wake_scheduler: Callable[[], None] | None = None

    def store_for(self, kind: str) -> ArtifactStore:
        return self.stores["job" if kind == "job" else "test"]
