"""Who is calling: a Bearer API key, or the signed session cookie the UI got by logging in with one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from supertest.db import apikeys, uisessions
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
        session_id = session_of_cookie(cookie, signer)
        record = uisessions.active_key(session, session_id) if session_id else None
        if record is None:
            raise Unauthorized("session expired or invalid; log in again with an API key", code="invalid_session")
        return _principal(record, "session")
    raise Unauthorized(
        "missing API key: send 'Authorization: Bearer <api key>' or log in to the UI", code="missing_api_key"
    )


def session_of_cookie(cookie: str, signer: SessionSigner) -> str | None:
    """The server-side session a well-signed, unexpired cookie names; None for anything else."""
    payload = signer.unsign(cookie)
    session_id = payload.get("sid") if payload else None
    return session_id if isinstance(session_id, str) else None


def login(session: Session, api_key: str, signer: SessionSigner) -> tuple[Principal, str]:
    record = apikeys.verify_key(session, api_key.strip())
    if record is None:
        raise Unauthorized("invalid API key: it is unknown or has been revoked", code="invalid_api_key")
    session_id = uisessions.open_session(session, record.id, signer.max_age)
    return _principal(record, "session"), signer.sign({"sid": session_id})


def logout(session: Session, cookie: str | None, signer: SessionSigner) -> None:
    """Revoke the session the cookie names, so a copy of the cookie stops working too."""
    session_id = session_of_cookie(cookie, signer) if cookie else None
    if session_id:
        uisessions.revoke(session, session_id)


def check_same_origin(
    via: Literal["bearer", "session"],
    method: str,
    origin: str | None,
    host: str | None,
    public_url: str | None = None,
    fetch_site: str | None = None,
) -> None:
    """Cookie-authenticated writes must provably come from our own pages (SameSite=Lax, plus this belt).

    Browsers send Origin on every fetch/XHR write and Sec-Fetch-Site on every request; a write with neither is
    not from a browser page of ours, so it is refused rather than trusted. Bearer-key clients are not affected.
    """
    if via != "session" or method.upper() in _SAFE_METHODS:
        return
    if origin:
        allowed = {host or "", urlsplit(public_url).netloc if public_url else ""} - {""}
        if origin == "null" or urlsplit(origin).netloc not in allowed:
            raise Forbidden(f"cross-origin request from {origin} refused for a cookie session")
        return
    if fetch_site is None:
        raise Forbidden(
            f"{method.upper()} with a session cookie needs an Origin or Sec-Fetch-Site header (browsers send "
            "them); API clients should send 'Authorization: Bearer <api key>' instead"
        )
    if fetch_site.lower() != "same-origin":
        raise Forbidden(f"a {fetch_site} request (Sec-Fetch-Site) refused for a cookie session")
