"""An unreachable database is a 503 with Retry-After (the fault tier's Postgres restart), never a 500."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from supertest_api.errors import DATABASE_DOWN_RETRY_AFTER, install_error_handlers


def test_a_dropped_database_connection_answers_503_with_retry_after() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    with TestClient(app, raise_server_exceptions=False) as client:
        resp = client.get("/boom")
    assert resp.status_code == 503
    assert resp.headers["retry-after"] == str(DATABASE_DOWN_RETRY_AFTER)
    assert resp.json() == {"error": "unavailable", "message": "the database is unreachable; try again shortly"}
