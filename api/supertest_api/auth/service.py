"""Who is calling: a Bearer API key, or the signed session cookie the UI got by logging in with one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from supertest.db import apikeys
from supertest.db.models import ApiKeyRecord
from supertest_api.errors import Forbidden, Unauthorized
from supertest_api.session import SessionSigner

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    key_name: str
    key_prefix: str
    via: Literal["bearer", "session"]
    # A CI trigger key: it may only run this job and read its runs (auth/scope.py).
    job_id: str | None = None


def _principal(record: ApiKeyRecord, via: Literal["bearer", "session"]) -> Principal:
    return Principal(key_id=record.id, key_name=record.name, key_prefix=record.prefix, via=via, job_id=record.job_id)


def authenticate(session: Session, authorization: str | None, cookie: str | None, signer: SessionSigner) -> Principal:
    # A present Authorization header decides alone: a bad key must not fall back to a cookie.
    if authorization is not None:
        scheme, _, key = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized("Authorization header must be 'Bearer <api key>'", code="invalid_api_key")
        record = apikeys.verify_key(session, key.strip())
        if record is None:
            raise Unauthorized("invalid API key: it is unknown or has been revoked", code="invalid_api_key")
        return _principal(record, "bearer")
    if cookie:
        payload = signer.unsign(cookie)
        key_id = payload.get("kid") if payload else None
        record = apikeys.active_key(session, key_id) if isinstance(key_id, str) else None
        if record is None:
            raise Unauthorized("session expired or invalid; log in again with an API key", code="invalid_session")
        return _principal(record, "session")
    raise Unauthorized(
        "missing API key: send 'Authorization: Bearer <api key>' or log in to the UI", code="missing_api_key"
    )


def login(session: Session, api_key: str, signer: SessionSigner) -> tuple[Principal, str]:
    record = apikeys.verify_key(session, api_key.strip())
    if record is None:
        raise Unauthorized("invalid API key: it is unknown or has been revoked", code="invalid_api_key")
    return _principal(record, "session"), signer.sign({"kid": record.id})


def check_same_origin(
    principal: Principal, method: str, origin: str | None, host: str | None, public_url: str | None = None
) -> None:
    """Cookie-authenticated writes must come from our own pages (SameSite=Lax, plus this belt)."""
    if principal.via != "session" or method.upper() in _SAFE_METHODS or not origin:
        return
    allowed = {host or "", urlsplit(public_url).netloc if public_url else ""} - {""}
    if origin == "null" or urlsplit(origin).netloc not in allowed:
        raise Forbidden(f"cross-origin request from {origin} refused for a cookie session")
