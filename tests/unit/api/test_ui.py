"""The web UI as the API serves it, and the two read endpoints added for it (schedule preview, artifacts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from supertest_api.ui import repository, service

from supertest.artifacts import LocalArtifactStore
from supertest.phases import Phase
from supertest.settings import ApiSettings
from tests.unit.api.conftest import ARTIFACTS_ORIGIN, insert_run

INDEX = (
    '<!doctype html><html><head><meta name="csp-nonce" content="{{CSP_NONCE}}">'
    '<script type="module" src="/ui/static/assets/app.js"></script></head><body><div id="app"></div></body></html>'
)


@pytest.fixture
def built_ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ui = tmp_path / "ui-build"
    (ui / "assets").mkdir(parents=True)
    (ui / "index.html").write_text(INDEX)
    monkeypatch.setenv(repository.UI_DIR_ENV, str(ui))
    return ui


@pytest.mark.parametrize("path", ["/", "/login", "/playground", "/tests", "/tests/abc", "/jobs/new", "/runs/r-1"])
def test_every_app_route_serves_the_built_page_with_a_nonce_csp(anon: TestClient, built_ui: Path, path: str) -> None:
    res = anon.get(path)
    assert res.status_code == 200
    csp = res.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'content="{nonce}"' in res.text and "{{CSP_NONCE}}" not in res.text
    assert res.headers["cache-control"] == "no-store"


def test_each_response_gets_a_fresh_nonce(anon: TestClient, built_ui: Path) -> None:
    first, second = anon.get("/").headers["content-security-policy"], anon.get("/").headers["content-security-policy"]
    assert first != second


def test_missing_build_is_a_clear_503_page(anon: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(repository.UI_DIR_ENV, str(tmp_path / "nowhere"))
    res = anon.get("/runs")
    assert res.status_code == 503
    assert "The web UI is not built" in res.text
    assert "scripts/build-ui.sh" in res.text and str(tmp_path / "nowhere") in res.text
    assert res.headers["content-security-policy"].startswith("default-src 'none'")


def test_non_app_paths_keep_their_answers(anon: TestClient, built_ui: Path) -> None:
    assert anon.get("/nope").status_code == 404
    assert anon.get("/runs/a/b").status_code == 404
    assert anon.post("/runs").status_code == 405
    assert anon.get("/healthz").status_code == 200


def test_policy_allows_only_our_origin() -> None:
    csp = service.content_security_policy("abc")
    for directive in ("default-src 'self'", "connect-src 'self'", "frame-src 'self'", "style-src 'self' 'nonce-abc'"):
        assert directive in csp
    assert "http" not in csp


def test_schedule_preview_lists_next_runs(client: TestClient) -> None:
    res = client.get("/api/jobs/schedule-preview", params={"schedule": "0  3 * * *", "timeZone": "Europe/Berlin"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["schedule"] == "0 3 * * *" and body["timeZone"] == "Europe/Berlin"
    assert len(body["nextRuns"]) == 5
    assert body["nextRuns"] == sorted(body["nextRuns"])


def test_schedule_preview_count_and_errors(client: TestClient) -> None:
    assert (
        len(client.get("/api/jobs/schedule-preview", params={"schedule": "@hourly", "count": 2}).json()["nextRuns"])
        == 2
    )
    bad = client.get("/api/jobs/schedule-preview", params={"schedule": "61 * * * *"})
    assert bad.status_code == 422 and "invalid cron schedule" in bad.json()["message"]
    zone = client.get("/api/jobs/schedule-preview", params={"schedule": "@daily", "timeZone": "Mars/Base"})
    assert zone.status_code == 422
    assert client.get("/api/jobs/schedule-preview").status_code == 422


def test_schedule_preview_needs_auth(anon: TestClient) -> None:
    assert anon.get("/api/jobs/schedule-preview", params={"schedule": "@daily"}).status_code == 401


def test_run_artifacts_are_listed_by_kind(
    client: TestClient, artifacts: TestClient, db: sessionmaker[Session], settings: ApiSettings
) -> None:
    run_id = insert_run(db, Phase.FAILED)
    store = LocalArtifactStore(settings.effective_artifacts_dir / "test")
    for name in ("report/index.html", "report/trace/index.html", "results.json"):
        store.put_bytes(f"runs/{run_id}/{name}", b"x")
    for name, data in (("b.zip", b"zip"), ("a.png", b"png!"), ("c.webm", b"webm"), ("d.md", b"md")):
        store.put_bytes(f"runs/{run_id}/report/data/{name}", data)

    res = client.get(f"/api/runs/{run_id}/artifacts")
    assert res.status_code == 200, res.text
    items = res.json()["items"]
    assert [(i["kind"], i["path"]) for i in items] == [
        ("screenshot", "report/data/a.png"),
        ("video", "report/data/c.webm"),
        ("trace", "report/data/b.zip"),
        ("other", "report/data/d.md"),
    ]
    assert items[0]["url"].startswith(ARTIFACTS_ORIGIN + "/") and items[0]["size"] == 4
    assert items[0]["url"].endswith(f"/runs/{run_id}/report/data/a.png")
    assert artifacts.get(items[0]["url"]).content == b"png!"


def test_run_artifacts_empty_and_unknown(client: TestClient, db: sessionmaker[Session]) -> None:
    run_id = insert_run(db, Phase.QUEUED)
    assert client.get(f"/api/runs/{run_id}/artifacts").json() == {"items": []}
    assert client.get("/api/runs/t-nope/artifacts").status_code == 404
