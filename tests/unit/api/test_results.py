"""Run files: the API only redirects (/api/test-results -> the artifacts origin, with a fresh run-scoped token);
the artifacts origin serves the bytes with types, ranges, ETags and the sandbox headers, for a valid token only."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from supertest.artifacts import LocalArtifactStore
from supertest.phases import Phase
from supertest.settings import ApiSettings
from tests.unit.api.conftest import ARTIFACTS_ORIGIN, LiveServer, insert_run

VIDEO = bytes(range(256)) * 40  # 10240 bytes


def located(client: TestClient, run_id: str, path: str) -> str:
    """The artifacts-origin path the API redirects `path` of the run to (it serves no bytes itself)."""
    res = client.get(f"/api/test-results/{run_id}/{path}", follow_redirects=False)
    assert res.status_code == 307, res.text
    assert res.content == b""
    location = res.headers["location"]
    assert location.startswith(ARTIFACTS_ORIGIN + "/")
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def run_id(db: sessionmaker[Session], settings: ApiSettings) -> str:
    run_id = insert_run(db, Phase.PASSED)
    store = LocalArtifactStore(settings.effective_artifacts_dir / "test")
    prefix = f"runs/{run_id}/"
    files = {
        "report/index.html": b"<html>report</html>",
        "report/trace/index.html": b"<html>trace viewer</html>",
        "report/trace/sw.bundle.js": b"self.addEventListener('fetch', () => {});",
        "report/trace/assets/app.css": b"body{}",
        "report/data/abc.png": b"\x89PNG...",
        "report/data/video.webm": VIDEO,
        "report/data/trace.zip": b"PK\x03\x04",
        "results.json": b"{}",
        "logs.txt": b"line\n",
    }
    for key, data in files.items():
        store.put_bytes(prefix + key, data)
    return run_id


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("report/index.html", "text/html; charset=utf-8"),
        ("report/trace/sw.bundle.js", "text/javascript; charset=utf-8"),
        ("report/trace/assets/app.css", "text/css; charset=utf-8"),
        ("report/data/abc.png", "image/png"),
        ("report/data/video.webm", "video/webm"),
        ("report/data/trace.zip", "application/zip"),
        ("results.json", "application/json"),
        ("logs.txt", "text/plain; charset=utf-8"),
    ],
)
def test_content_types(client: TestClient, artifacts: TestClient, run_id: str, path: str, ctype: str) -> None:
    res = artifacts.get(located(client, run_id, path))
    assert res.status_code == 200
    assert res.headers["content-type"] == ctype
    assert res.headers["accept-ranges"] == "bytes"
    assert res.headers["x-content-type-options"] == "nosniff"


def test_trace_viewer_query_and_service_worker(client: TestClient, artifacts: TestClient, run_id: str) -> None:
    viewer = located(client, run_id, "report/trace/index.html")
    res = artifacts.get(viewer, params={"trace": "../data/trace.zip"})
    assert res.status_code == 200
    assert res.text == "<html>trace viewer</html>"
    sw = artifacts.get(located(client, run_id, "report/trace/sw.bundle.js"))
    token = viewer.split("/")[1]
    assert sw.headers["service-worker-allowed"] == f"/{token}/runs/{run_id}/"


def test_directory_and_root_redirects(client: TestClient, artifacts: TestClient, run_id: str) -> None:
    for url in (f"/api/test-results/{run_id}/", f"/api/test-results/{run_id}"):
        res = client.get(url, follow_redirects=False)
        assert res.status_code == 307
        assert res.headers["location"].endswith(f"/runs/{run_id}/report/index.html")
        assert artifacts.get(res.headers["location"]).text == "<html>report</html>"
    root = located(client, run_id, "report/index.html").removesuffix("/report/index.html")
    assert artifacts.get(root, follow_redirects=False).headers["location"] == root + "/report/index.html"
    assert artifacts.get(root + "/report/").text == "<html>report</html>"


def test_range_requests(client: TestClient, artifacts: TestClient, run_id: str) -> None:
    url = located(client, run_id, "report/data/video.webm")
    full = artifacts.get(url)
    assert full.status_code == 200
    assert full.content == VIDEO
    assert full.headers["content-length"] == "10240"

    part = artifacts.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == "bytes 100-199/10240"
    assert part.headers["content-length"] == "100"
    assert part.content == VIDEO[100:200]

    open_ended = artifacts.get(url, headers={"Range": "bytes=10000-"})
    assert open_ended.status_code == 206
    assert open_ended.content == VIDEO[10000:]

    suffix = artifacts.get(url, headers={"Range": "bytes=-16"})
    assert suffix.status_code == 206
    assert suffix.content == VIDEO[-16:]
    assert suffix.headers["content-range"] == "bytes 10224-10239/10240"

    clamped = artifacts.get(url, headers={"Range": "bytes=10200-99999"})
    assert clamped.status_code == 206
    assert clamped.headers["content-range"] == "bytes 10200-10239/10240"

    unsatisfiable = artifacts.get(url, headers={"Range": "bytes=20000-20010"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == "bytes */10240"

    for ignored in ("bytes=0-1,5-6", "items=0-1", "bytes=oops", "bytes=9-3"):
        assert artifacts.get(url, headers={"Range": ignored}).status_code == 200, ignored


def test_head_and_etag(client: TestClient, artifacts: TestClient, run_id: str) -> None:
    url = located(client, run_id, "report/data/video.webm")
    head = artifacts.head(url)
    assert head.status_code == 200
    assert head.headers["content-length"] == "10240"
    assert head.content == b""
    etag = head.headers["etag"]
    assert artifacts.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_unknown_run_or_file_is_404(client: TestClient, artifacts: TestClient, run_id: str) -> None:
    assert client.get("/api/test-results/tr-000000000000/report/index.html").status_code == 404
    assert client.get("/api/test-results/NOT_A_DNS_LABEL/report/index.html").status_code == 404
    missing = artifacts.get(located(client, run_id, "report/nope.html"))
    assert missing.status_code == 404
    assert "nope.html" in missing.json()["message"]


def test_job_runs_use_the_job_store(
    client: TestClient, artifacts: TestClient, db: sessionmaker[Session], settings: ApiSettings
) -> None:
    run_id = insert_run(db, Phase.PASSED, kind="job")
    LocalArtifactStore(settings.effective_artifacts_dir / "job").put_bytes(f"runs/{run_id}/report/index.html", b"job")
    assert artifacts.get(located(client, run_id, "report/index.html")).text == "job"


def test_results_need_auth_and_accept_the_cookie(anon: TestClient, api_key: str, run_id: str) -> None:
    url = f"/api/test-results/{run_id}/report/index.html"
    assert anon.get(url, follow_redirects=False).status_code == 401
    anon.post("/api/auth/login", json={"apiKey": api_key})
    assert anon.get(url, follow_redirects=False).status_code == 307


@pytest.mark.parametrize(
    "path",
    [
        "%2e%2e/%2e%2e/secret",
        "report/%2e%2e/%2e%2e/x",
        "..%2f..%2fsecret",
        "%252e%252e/%252e%252e/secret",
        "report%5c..%5csecret",
        "report/a%00b",
        "%2fetc/passwd",
        "report/%2e/index.html",
    ],
)
def test_encoded_traversal_is_400(client: TestClient, run_id: str, path: str) -> None:
    res = client.get(f"/api/test-results/{run_id}/{path}", follow_redirects=False)
    assert res.status_code == 400, path
    assert res.json()["error"] == "invalid_path"
    assert "invalid report path" in res.json()["message"]


@pytest.mark.parametrize(
    "raw",
    [
        "report/../../secret",
        "../../../etc/passwd",
        "report/..",
        "report/./index.html",
        "/etc/passwd",
        "report\\..\\secret",
    ],
)
def test_raw_traversal_is_400(live: LiveServer, run_id: str, raw: str) -> None:
    # http.client sends the path byte for byte; httpx would normalise the dot segments away.
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    try:
        conn.request("GET", f"/api/test-results/{run_id}/{raw}", headers=live.auth)
        res = conn.getresponse()
        body = res.read()
    finally:
        conn.close()
    assert res.status == 400, (raw, body)
    assert b"invalid_path" in body


@pytest.mark.parametrize("path", ["%2e%2e/%2e%2e/x", "report/%2e%2e/%2e%2e/x", "%252e%252e/x", "report/a%00b"])
def test_encoded_traversal_on_the_artifacts_origin_is_400(
    client: TestClient, artifacts: TestClient, run_id: str, path: str
) -> None:
    prefix = located(client, run_id, "report/index.html").removesuffix("report/index.html")
    res = artifacts.get(prefix + path)
    assert res.status_code == 400, path
    assert res.json()["error"] == "invalid_path"
