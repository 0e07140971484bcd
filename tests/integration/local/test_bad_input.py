"""Bad input gets a clear 4xx and nothing is stored or lost."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.local_server import LocalServer, local_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with local_server(tmp_path_factory.mktemp("bad-input")) as srv:
        yield srv


@pytest.fixture
def client(server: LocalServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def run_count(client: httpx.Client) -> int:
    return int(client.get("/api/runs").json()["total"])


@pytest.mark.parametrize("script", ["", "   \n\t  "])
def test_empty_script_is_refused(client: httpx.Client, script: str):
    before = run_count(client)
    response = client.post("/api/test", json={"script": script})
    assert response.status_code == 422
    assert "empty" in response.text.lower()
    assert run_count(client) == before


def test_five_megabyte_script_is_refused(client: httpx.Client):
    before = run_count(client)
    response = client.post("/api/test", json={"script": "// x\n" * (5 * 1024 * 1024 // 5)})
    assert response.status_code == 413
    assert "limit" in response.json()["message"].lower() or "large" in response.json()["message"].lower()
    assert run_count(client) == before


def test_unknown_run_id(client: httpx.Client):
    for path in ("/api/runs/tr-doesnotexist", "/api/test-results/tr-doesnotexist/report/index.html"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "tr-doesnotexist" in response.json()["message"]
    assert client.post("/api/runs/tr-doesnotexist/cancel").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "report/../../../etc/passwd",
        "report/%2e%2e/%2e%2e/secret",
        "..%2f..%2fetc%2fpasswd",
        "report/..%5c..%5cx",
        "report/%00x",
    ],
)
def test_path_traversal_is_refused(server: LocalServer, client: httpx.Client, path: str):
    run = client.post("/api/test", json={"script": "import { test } from '@playwright/test'; test('t', () => {});"})
    run_id = run.json()["runId"]
    # http.client sends the path as written, the way `curl --path-as-is` would; httpx would normalise '..' away.
    conn = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=10)
    conn.request("GET", f"/api/test-results/{run_id}/{path}", headers={"Authorization": f"Bearer {server.api_key}"})
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == 400, (path, response.status, body)
    assert body["error"] == "invalid_path"
    assert "path" in body["message"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer st_wrong"}, {"Authorization": "Basic abc"}])
def test_missing_or_wrong_key_is_refused(server: LocalServer, headers: dict[str, str]):
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        before_response = anonymous.get("/api/runs", headers=headers)
        assert before_response.status_code == 401
        assert before_response.headers.get("www-authenticate", "").lower().startswith("bearer")
        assert before_response.json()["message"]
        assert anonymous.post("/api/test", json={"script": "x"}, headers=headers).status_code == 401
