"""`Annotated` dependency aliases: the only way routers reach settings, the DB, the bus and the launcher."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from supertest.bus.base import EventBus
from supertest.db.engine import session_scope
from supertest.launch import RunLauncher
from supertest.settings import ApiSettings
from supertest_api.auth import repository as auth_repository
from supertest_api.auth import service as auth_service
from supertest_api.auth.scope import RouteCall, check_job_scope
from supertest_api.auth.session import COOKIE_NAME
from supertest_api.errors import ServiceUnavailable
from supertest_api.jobs.service import Scheduling
from supertest_api.metrics.service import ApiMetrics
from supertest_api.resources import AppResources


def get_resources(request: Request) -> AppResources:
    resources: AppResources | None = getattr(request.app.state, "resources", None)
    if resources is None:
        raise ServiceUnavailable("the API is starting or stopping")
    return resources


ResourcesDep = Annotated[AppResources, Depends(get_resources)]


def get_settings(resources: ResourcesDep) -> ApiSettings:
    return resources.settings


def get_session_factory(resources: ResourcesDep) -> sessionmaker[Session]:
    return resources.session_factory


def get_session(resources: ResourcesDep) -> Iterator[Session]:
    # One transaction per request, committed before the response is sent (scope="function").
    with session_scope(resources.session_factory) as session:
        yield session


def get_launcher(resources: ResourcesDep) -> RunLauncher:
    return resources.launcher


def get_bus(resources: ResourcesDep) -> EventBus:
    return resources.bus


def get_scheduling(resources: ResourcesDep) -> Scheduling:
    return Scheduling(cluster=resources.testjobs, wake=resources.wake_scheduler)


def get_metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
LauncherDep = Annotated[RunLauncher, Depends(get_launcher)]
BusDep = Annotated[EventBus, Depends(get_bus)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
SchedulingDep = Annotated[Scheduling, Depends(get_scheduling)]

# Declared for OpenAPI (the docs' Authorize button); the header and cookie are read raw below so a
# missing key and an invalid one get different messages.
bearer_scheme = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")
cookie_scheme = APIKeyCookie(name=COOKIE_NAME, auto_error=False, description="UI session from POST /api/auth/login")


def require_principal(
    request: Request,
    resources: ResourcesDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    _cookie: Annotated[str | None, Security(cookie_scheme)],
) -> auth_service.Principal:
    with session_scope(resources.session_factory) as session:
        principal = auth_service.authenticate(
            session, request.headers.get("authorization"), request.cookies.get(COOKIE_NAME), resources.signer
        )
        if principal.job_id is not None:
            route = request.scope.get("route")
            call = RouteCall(
                method=request.method,
                template=str(getattr(route, "path", request.url.path)),
                path_params={k: str(v) for k, v in request.path_params.items()},
                query=dict(request.query_params),
            )
            check_job_scope(principal.job_id, call, lambda run_id: auth_repository.job_of_run(session, run_id))
    auth_service.check_same_origin(
        principal,
        request.method,
        request.headers.get("origin"),
        request.headers.get("host"),
        resources.settings.public_url,
    )
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[auth_service.Principal, Depends(require_principal)]
