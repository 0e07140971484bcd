"""The principal dependency every `/api` router requires: an API key or a UI session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from supertest.db import runs as run_repo
from supertest.db.engine import session_scope
from supertest_api.auth import service as auth_service
from supertest_api.auth.scope import RouteCall, check_job_scope
from supertest_api.deps import ResourcesDep
from supertest_api.session import COOKIE_NAME

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
            check_job_scope(principal.job_id, call, lambda run_id: run_repo.job_of_run(session, run_id))
    auth_service.check_same_origin(
        principal.via,
        request.method,
        request.headers.get("origin"),
        request.headers.get("host"),
        resources.settings.public_url,
        request.headers.get("sec-fetch-site"),
    )
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[auth_service.Principal, Depends(require_principal)]
