"""The artifacts origin's authorisation (run-scoped, expiring tokens) and its headers for user-generated files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from supertest_api.app import create_app
from supertest_api.artifacts_origin.links import load_artifacts_key

from supertest.artifacts import LocalArtifactStore, tokens
from supertest.phases import Phase
from supertest.settings import ApiSettings
from tests.unit.api.conftest import insert_run, make_settings
from tests.unit.api.test_results import located

FILES = {
    "report/index.html": b"<html><script>app()</script></html>",
    "report/trace/index.html": b"<html>viewer</html>",
    "report/data/evil.html": b"<script>fetch('/api/tests')</script>",
    "report/data/evil.svg": b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
    "report/data/evil.xml": b"<?xml version='1.0'?><x/>",
    "report/data/shot.png": b"\x89PNG",
    "logs.txt": b"<script>not html</script>",
}


@pytest.fixture
def run_id(db: sessionmaker[Session], settings: ApiSettings) -> str:
    run_id = insert_run(db, Phase.PASSED)
    store = LocalArtifactStore(settings.effective_artifacts_dir / "test")
    for key, data in FILES.items():
        store.put_bytes(f"runs/{run_id}/{key}", data)
    return run_id


def test_the_api_hands_out_artifacts_urls_and_serves_no_bytes(client: TestClient, run_id: str) -> None:
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["reportUrl"].startswith("http://artifacts.testserver/")
    assert run["reportUrl"].endswith(f"/runs/{run_id}/report/index.html")
    res = client.get(f"/api/test-results/{run_id}/report/data/evil.html", follow_redirects=False)
    assert res.status_code == 307 and res.content == b""
    assert res.headers["cache-control"] == "private, no-store"
    listed = client.get(f"/api/runs/{run_id}/artifacts").json()["items"]
    assert {item["path"] for item in listed} >= {"report/data/evil.html", "report/data/shot.png"}
    assert all(item["url"].startswith("http://artifacts.testserver/") for item in listed)


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("report/data/evil.html", "text/html; charset=utf-8"),
        ("report/data/evil.svg", "image/svg+xml"),
        ("report/data/evil.xml", "application/xml"),
    ],
)
def test_active_attachments_are_sandboxed_downloads(
    client: TestClient, artifacts: TestClient, run_id: str, path: str, ctype: str
) -> None:
    res = artifacts.get(located(client, run_id, path))
    assert res.status_code == 200
    assert res.headers["content-type"].startswith(ctype.split(";")[0])
    assert res.headers["content-security-policy"] == "sandbox"
    assert res.headers["content-disposition"] == f'attachment; filename="{path.rsplit("/", 1)[1]}"'
    assert res.headers["x-content-type-options"] == "nosniff"


def test_inert_files_are_sandboxed_but_inline_and_the_report_app_runs(
    client: TestClient, artifacts: TestClient, run_id: str
) -> None:
    for path in ("report/data/shot.png", "logs.txt"):
        res = artifacts.get(located(client, run_id, path))
        assert res.headers["content-security-policy"] == "sandbox", path
        assert "content-disposition" not in res.headers, path
        assert res.headers["x-content-type-options"] == "nosniff"
    for path in ("report/index.html", "report/trace/index.html"):
        res = artifacts.get(located(client, run_id, path))
        assert res.status_code == 200
        assert "content-security-policy" not in res.headers, path  # the report and viewer need their scripts
        assert "content-disposition" not in res.headers, path
        assert res.headers["x-content-type-options"] == "nosniff"


def test_no_cookie_is_read_or_set(client: TestClient, artifacts: TestClient, run_id: str, api_key: str) -> None:
    url = located(client, run_id, "report/index.html")
    session = client.post("/api/auth/login", json={"apiKey": api_key}).cookies
    assert session, "the API sets a session cookie"
    artifacts.cookies.update(session)
    res = artifacts.get(url)
    assert res.status_code == 200 and "set-cookie" not in res.headers
    # A cookie alone opens nothing: without the token, the artifacts origin has no route to the run.
    bare = artifacts.get(f"/runs/{run_id}/report/index.html")
    assert bare.status_code == 404 and "set-cookie" not in bare.headers


def test_expired_foreign_and_tampered_tokens_are_refused(
    client: TestClient, artifacts: TestClient, db: sessionmaker[Session], settings: ApiSettings, run_id: str
) -> None:
    key = load_artifacts_key(settings)
    other = insert_run(db, Phase.PASSED)
    LocalArtifactStore(settings.effective_artifacts_dir / "test").put_bytes(f"runs/{other}/logs.txt", b"secret")
    good = located(client, run_id, "logs.txt")
    token = good.split("/")[1]
    assert artifacts.get(good).status_code == 200

    expired = tokens.mint(key, run_id, "test", ttl_seconds=60, now=time.time() - 3600)
    assert artifacts.get(f"/{expired}/runs/{run_id}/logs.txt").status_code == 403
    wrong_run = artifacts.get(f"/{token}/runs/{other}/logs.txt")
    assert wrong_run.status_code == 403 and b"secret" not in wrong_run.content
    expiry, kind, mac = token.split(".")
    for forged in (f"{int(expiry) + 86_400}.{kind}.{mac}", f"{expiry}.job.{mac}", f"{expiry}.{kind}.{mac[:-1]}x", "x"):
        assert artifacts.get(f"/{forged}/runs/{run_id}/logs.txt").status_code == 403, forged
    other_key = tokens.mint(b"another key of thirty-two bytes!", run_id, "test", 3600)
    assert artifacts.get(f"/{other_key}/runs/{run_id}/logs.txt").status_code == 403
    assert artifacts.get(f"/{token}/runs/NOT_A_RUN/logs.txt").status_code == 404


def test_a_wildcard_host_follows_the_host_the_viewer_came_by(home: Path, api_key: str, run_id: str) -> None:
    # One Service with two ports (the chart's default): the artifacts origin is the UI's host on its own port.
    settings = make_settings(home, ARTIFACTS_URL="http://*:8081")
    with TestClient(create_app(settings), base_url="http://supertest.internal") as client:
        client.headers["Authorization"] = f"Bearer {api_key}"
        assert client.get(f"/api/runs/{run_id}").json()["reportUrl"].startswith("http://supertest.internal:8081/")
        moved = client.get(f"/api/test-results/{run_id}/logs.txt", follow_redirects=False)
        assert moved.headers["location"].startswith("http://supertest.internal:8081/")
        csp = client.get("/runs").headers["content-security-policy"]
        assert "frame-src 'self' http://supertest.internal:8081;" in csp
