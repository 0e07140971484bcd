from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from supertest_api.auth import service
from supertest_api.auth.deps import PrincipalDep
from supertest_api.auth.schemas import LoginIn, PrincipalOut
from supertest_api.common import responses
from supertest_api.deps import ResourcesDep, SessionDep
from supertest_api.session import COOKIE_NAME

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _secure(request: Request, public_url: str | None) -> bool:
    return request.url.scheme == "https" or bool(public_url and public_url.startswith("https://"))


@router.post("/login", response_model=PrincipalOut, responses=responses(), summary="Log the UI in with an API key")
def login(body: LoginIn, request: Request, response: Response, session: SessionDep, res: ResourcesDep) -> PrincipalOut:
    principal, token = service.login(session, body.api_key, res.signer)
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=res.signer.max_age,
        httponly=True,
        samesite="lax",
        secure=_secure(request, res.settings.public_url),
        path="/",
    )
    request.state.principal = principal
    return PrincipalOut.model_validate(principal)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End the UI session")
def logout(request: Request, response: Response, session: SessionDep, res: ResourcesDep) -> Response:
    # No auth needed: an expired session must still be able to log out. A live one is revoked server-side, so a
    # copy of the cookie (another tab, a stolen one) is refused from now on, not only this browser's.
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie and request.headers.get("authorization") is None:
        # A cross-site page must not end someone's session either: the same Origin belt as every cookie write.
        service.check_same_origin(
            "session",
            request.method,
            request.headers.get("origin"),
            request.headers.get("host"),
            res.settings.public_url,
            request.headers.get("sec-fetch-site"),
        )
    service.logout(session, cookie, res.signer)
    response.status_code = status.HTTP_204_NO_CONTENT
    response.delete_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=_secure(request, res.settings.public_url)
    )
    return response


@router.get("/me", response_model=PrincipalOut, responses=responses(), summary="Who the caller is")
def me(principal: PrincipalDep) -> PrincipalOut:
    return PrincipalOut.model_validate(principal)
