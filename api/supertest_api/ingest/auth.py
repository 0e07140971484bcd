"""The run token on an ingest request: genuine, unexpired, and for the run in the path; nothing else is accepted
here (no API key, no session), and a run token is accepted nowhere else."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from supertest.run_token import InvalidRunToken, RunClaims, verify
from supertest_api.deps import SettingsDep
from supertest_api.errors import Forbidden, Unauthorized


def run_claims(namespace: str, name: str, request: Request, settings: SettingsDep) -> RunClaims:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("a run token is required (Authorization: Bearer <token>)")
    if settings.run_token_key is None:
        raise Unauthorized("this API does not accept run tokens (RUN_TOKEN_KEY is not set)")
    try:
        return verify(settings.run_token_key.get_secret_value().encode(), token.strip(), namespace, name)
    except InvalidRunToken as exc:
        if "another run" in str(exc):
            raise Forbidden(str(exc)) from exc
        raise Unauthorized(str(exc)) from exc


RunClaimsDep = Annotated[RunClaims, Depends(run_claims)]
