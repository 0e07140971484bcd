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
def logout(response: Response) -> Response:
    # No auth needed: clearing a cookie is harmless, and an expired session must still be able to log out.
    response.status_code = status.HTTP_204_NO_CONTENT
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


@router.get("/me", response_model=PrincipalOut, responses=responses(), summary="Who the caller is")
def me(principal: PrincipalDep) -> PrincipalOut:
    return PrincipalOut.model_validate(principal)
