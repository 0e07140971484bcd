"""The run token on an ingest request: genuine, unexpired, for the run in the path, and that run has not ended since
it was issued; nothing else is accepted here (no API key, no session), and a run token is accepted nowhere else."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from supertest.db import runs as run_repo
from supertest.db.engine import in_session
from supertest.run_token import InvalidRunToken, RunClaims, revoked_by, verify
from supertest_api.deps import SessionFactoryDep, SettingsDep
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


async def live_run_claims(claims: Annotated[RunClaims, Depends(run_claims)], factory: SessionFactoryDep) -> RunClaims:
    """A token outlives its pod by its grace period; once the run's row says it ended, the token is revoked, so a
    script that copied it cannot keep writing into (or reading) a finished run."""
    ended = await in_session(factory, lambda s: run_repo.ended_at(s, claims.name, claims.namespace))
    # Row datetimes are always timezone-aware (models.UTCDateTime), so timestamp() is the true epoch.
    if ended is not None and revoked_by(claims, ended.timestamp()):
        raise Unauthorized(f"run {claims.name} has ended: its run token is revoked")
    return claims


RunClaimsDep = Annotated[RunClaims, Depends(live_run_claims)]
