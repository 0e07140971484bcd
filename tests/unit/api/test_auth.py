from __future__ import annotations

import stat
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from supertest_api.session import COOKIE_NAME, SessionSigner

from supertest.db import apikeys
from supertest.db.engine import session_scope
from supertest.db.models import ApiKeyRecord


def test_missing_key_is_401_with_bearer_challenge(anon: TestClient) -> None:
    res = anon.get("/api/runs")
    assert res.status_code == 401
    assert res.headers["WWW-Authenticate"].startswith("Bearer")
    body = res.json()
    assert body["error"] == "missing_api_key"
    assert "missing API key" in body["message"]


def test_invalid_key_is_401_and_says_invalid(anon: TestClient, api_key: str) -> None:
    res = anon.get("/api/runs", headers={"Authorization": "Bearer st_wrong"})
    assert res.status_code == 401
    assert res.json()["error"] == "invalid_api_key"
    assert "invalid API key" in res.json()["message"]
    assert res.headers["WWW-Authenticate"].startswith("Bearer")


def test_wrong_scheme_is_rejected(anon: TestClient, api_key: str) -> None:
    res = anon.get("/api/runs", headers={"Authorization": f"Basic {api_key}"})
    assert res.status_code == 401
    assert "Bearer" in res.json()["message"]


def test_valid_key(client: TestClient) -> None:
    res = client.get("/api/auth/me")
    assert res.status_code == 200
    assert res.json()["via"] == "bearer"
    assert res.json()["keyName"] == "unit-tests"


def test_bad_header_does_not_fall_back_to_cookie(anon: TestClient, api_key: str) -> None:
    assert anon.post("/api/auth/login", json={"apiKey": api_key}).status_code == 200
    res = anon.get("/api/auth/me", headers={"Authorization": "Bearer nope"})
    assert res.status_code == 401


def test_cookie_login_me_logout(anon: TestClient, api_key: str) -> None:
    res = anon.post("/api/auth/login", json={"apiKey": api_key})
    assert res.status_code == 200
    cookie = res.headers["set-cookie"]
    assert COOKIE_NAME in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    me = anon.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["via"] == "session"
    assert anon.get("/api/runs").status_code == 200
    assert anon.post("/api/auth/logout", headers={"Origin": "http://testserver"}).status_code == 204
    assert anon.get("/api/auth/me").status_code == 401


def test_login_with_wrong_key(anon: TestClient, api_key: str) -> None:
    res = anon.post("/api/auth/login", json={"apiKey": "st_nope"})
    assert res.status_code == 401
    assert COOKIE_NAME not in res.headers.get("set-cookie", "")


def test_tampered_or_foreign_cookie(anon: TestClient, api_key: str) -> None:
    anon.cookies.set(COOKIE_NAME, SessionSigner(b"another-secret-entirely-000000000").sign({"kid": "x"}))
    res = anon.get("/api/auth/me")
    assert res.status_code == 401
    assert res.json()["error"] == "invalid_session"


def test_revoking_a_key_ends_its_sessions(anon: TestClient, api_key: str, db: sessionmaker[Session]) -> None:
    assert anon.post("/api/auth/login", json={"apiKey": api_key}).status_code == 200
    with session_scope(db) as session:
        record = session.query(ApiKeyRecord).one()
        apikeys.revoke_key(session, record.id)
    assert anon.get("/api/auth/me").status_code == 401


def test_cross_origin_cookie_write_is_refused(anon: TestClient, api_key: str) -> None:
    anon.post("/api/auth/login", json={"apiKey": api_key})
    res = anon.post("/api/test", json={"script": "x"}, headers={"Origin": "https://evil.example"})
    assert res.status_code == 403
    same = anon.post("/api/test", json={"script": "test('a', () => {})"}, headers={"Origin": "http://testserver"})
    assert same.status_code == 202


def test_session_expiry() -> None:
    signer = SessionSigner(b"k" * 32, max_age=60)
    token = signer.sign({"kid": "a"}, now=1000)
    assert signer.unsign(token, now=1030) == {"kid": "a"}
    assert signer.unsign(token, now=1061) is None
    assert signer.unsign(token + "x", now=1030) is None
    assert signer.unsign("garbage", now=1030) is None


def test_local_session_secret_is_persisted_private(anon: TestClient, home: Path) -> None:
    path = home / "session.key"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_public_routes_need_no_key(anon: TestClient) -> None:
    assert anon.get("/healthz").status_code == 200
    assert anon.get("/").status_code == 200
    assert anon.get("/metrics").status_code == 200
    assert anon.get("/openapi.json").status_code == 200
