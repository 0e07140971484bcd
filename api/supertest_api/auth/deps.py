"""The principal dependency every `/api` router requires: an API key or a UI session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from supertest.db import runs as run_repo
from supertest.db.engine import in_session
from supertest_api.auth import service as auth_service
from supertest_api.auth.scope import RouteCall, check_job_scope
from supertest_api.deps import ResourcesDep
from supertest_api.keycache import KeyCache
from supertest_api.session import COOKIE_NAME

# Declared for OpenAPI (the docs' Authorize button); the header and cookie are read raw below so a
# missing key and an invalid one get different messages.
bearer_scheme = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")
cookie_scheme = APIKeyCookie(name=COOKIE_NAME, auto_error=False, description="UI session from POST /api/auth/login")


async def require_principal(
    request: Request,
    resources: ResourcesDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    _cookie: Annotated[str | None, Security(cookie_scheme)],
) -> auth_service.Principal:
    # `async def`: a key seen in the last API_KEY_CACHE_SECONDS costs neither a thread hop nor a round trip; only a
    # lookup, or a job-scoped key's check of the run it names, goes to the database (on a worker thread).
    authorization = request.headers.get("authorization")
    cache: KeyCache[auth_service.Principal] = resources.key_cache
    principal = cache.get(authorization) if authorization is not None else None
    if principal is None or principal.job_id is not None:
        known = principal
        cookie = request.cookies.get(COOKIE_NAME)

        def lookup(session: Session) -> auth_service.Principal:
            found = known or auth_service.authenticate(session, authorization, cookie, resources.signer)
            if found.job_id is not None:
                check_job_scope(found.job_id, _route_call(request), lambda run_id: run_repo.job_of_run(session, run_id))
            return found

        principal = await in_session(resources.session_factory, lookup)
        if known is None and authorization is not None:
            cache.put(authorization, principal)
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


def _route_call(request: Request) -> RouteCall:
    route = request.scope.get("route")
    return RouteCall(
        method=request.method,
        template=str(getattr(route, "path", request.url.path)),
        path_params={k: str(v) for k, v in request.path_params.items()},
        query=dict(request.query_params),
    )


PrincipalDep = Annotated[auth_service.Principal, Depends(require_principal)]
