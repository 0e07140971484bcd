"""`Annotated` dependency aliases: the only way routers reach settings, the DB, the bus and the launcher.

Domain-specific ones live with their domain (`auth.deps`, `metrics.service`, `jobs.router`), so this module
imports no domain package and every domain may import it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from supertest.bus.base import EventBus
from supertest.db.engine import session_scope
from supertest.launch import RunLauncher
from supertest.settings import ApiSettings
from supertest_api.artifacts_origin.links import ArtifactLinks
from supertest_api.errors import ServiceUnavailable
from supertest_api.resources import AppResources


async def get_resources(request: Request) -> AppResources:
    resources: AppResources | None = getattr(request.app.state, "resources", None)
    if resources is None:
        raise ServiceUnavailable("the API is starting or stopping")
    return resources


ResourcesDep = Annotated[AppResources, Depends(get_resources)]

# The plain lookups here are `async def` on purpose: FastAPI runs a sync dependency on the thread pool, and a
# request resolves several of them, so each would cost a thread hop (and a wait for the GIL) for an attribute read.


async def get_settings(resources: ResourcesDep) -> ApiSettings:
    return resources.settings


async def get_session_factory(resources: ResourcesDep) -> sessionmaker[Session]:
    return resources.session_factory


def get_session(resources: ResourcesDep) -> Iterator[Session]:
    # One transaction per request, committed before the response is sent (scope="function").
    with session_scope(resources.session_factory) as session:
        yield session


async def get_launcher(resources: ResourcesDep) -> RunLauncher:
    return resources.launcher


async def get_bus(resources: ResourcesDep) -> EventBus:
    return resources.bus


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
LauncherDep = Annotated[RunLauncher, Depends(get_launcher)]
BusDep = Annotated[EventBus, Depends(get_bus)]


async def get_artifact_links(request: Request, resources: ResourcesDep) -> ArtifactLinks | None:
    """Artifacts-origin links as this request sees them (a `*` ARTIFACTS_URL host is the request's host)."""
    links = resources.artifact_links
    return links.at(request.url.hostname) if links is not None else None


ArtifactLinksDep = Annotated[ArtifactLinks | None, Depends(get_artifact_links)]
