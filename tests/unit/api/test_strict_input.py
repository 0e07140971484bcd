"""Input the API cannot store or Kubernetes would refuse gets a readable 4xx, never a 500 or a silent drop."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from supertest_api.app import create_app
from supertest_api.errors import from_kube

from supertest.bus.memory import MemoryEventBus
from supertest.kube.client import KubeError
from supertest.kube.models import MAX_JOB_TESTS, MAX_RUN_SCRIPT_BYTES
from tests.unit.api.conftest import FakeLauncher, make_settings

SCRIPT = "import { test } from '@playwright/test'; test('t', async () => {});"


def _raw_json(client: TestClient, path: str, body: str) -> tuple[int, dict[str, object]]:
    """JSON written by hand: `\\ud800` and `\\u0000` escapes, which json.dumps of a str would not produce."""
    res = client.post(path, content=body.encode(), headers={"Content-Type": "application/json"})
    return res.status_code, res.json()


@pytest.mark.parametrize(
    ("escape", "said"), [("\\u0000", "NUL byte"), ("\\ud800", "surrogate"), ("\\udfff", "surrogate")]
)
@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/api/test", '{"script": "test(\'a\');%s"}'),
        ("/api/test", '{"script": "x", "title": "t%s"}'),
        ("/api/tests", '{"title": "t%s", "script": "x"}'),
        ("/api/tests", '{"title": "t", "script": "x", "tags": ["a%s"]}'),
        ("/api/jobs", '{"name": "j%s"}'),
        ("/api/jobs/run", '{"tests": [{"name": "n%s", "script": "x"}]}'),
    ],
)
def test_unstorable_characters_in_bodies_are_422(
    client: TestClient, launcher: FakeLauncher, path: str, template: str, escape: str, said: str
) -> None:
    status, body = _raw_json(client, path, template % escape)
    assert status == 422, body
    # Constrained strings are refused by pydantic itself ("... as a unicode string"); the rest by RequestModel.
    assert said in str(body["message"]) or "unicode string" in str(body["message"]), body
    assert launcher.submitted == []


def test_unknown_fields_are_422(client: TestClient, launcher: FakeLauncher) -> None:
    for path, body in [
        ("/api/test", {"script": SCRIPT, "scirpt": "typo"}),
        ("/api/tests", {"title": "t", "script": SCRIPT, "color": "red"}),
        ("/api/jobs", {"name": "j", "cron": "* * * * *"}),
        ("/api/jobs/run", {"tests": [{"name": "a", "script": SCRIPT, "retries": 3}]}),
    ]:
        res = client.post(path, json=body)
        assert res.status_code == 422, (path, res.text)
        assert "Extra inputs are not permitted" in res.json()["message"], res.text
    assert launcher.submitted == []


@pytest.mark.parametrize(
    "url",
    [
        "/api/runs/tr-%00abc",
        "/api/runs?testId=a%00b",
        "/api/tests/t%00x",
        "/api/jobs?q=%00",
    ],
)
def test_nul_in_path_and_query_parameters_is_422(client: TestClient, url: str) -> None:
    res = client.get(url)
    assert res.status_code == 422, res.text
    assert "NUL byte" in res.json()["message"]


@pytest.mark.parametrize("offset", [2**63, 2**31])
def test_out_of_range_offset_is_422(client: TestClient, offset: int) -> None:
    res = client.get(f"/api/runs?offset={offset}")
    assert res.status_code == 422, res.text
    assert "offset" in res.json()["message"]


def test_more_tests_than_the_crd_allows_is_422(client: TestClient, launcher: FakeLauncher) -> None:
    tests = [{"name": f"t{i}", "script": SCRIPT} for i in range(MAX_JOB_TESTS + 1)]
    res = client.post("/api/jobs/run", json={"tests": tests})
    assert res.status_code == 422
    assert str(MAX_JOB_TESTS) in res.json()["message"]
    ids = [client.post("/api/tests", json={"title": f"t{i}", "script": SCRIPT}).json()["id"] for i in range(51)]
    job = client.post("/api/jobs", json={"name": "big", "testIds": ids})
    assert job.status_code == 422
    assert str(MAX_JOB_TESTS) in job.json()["message"]
    assert launcher.submitted == []


def test_scripts_over_the_configmap_budget_are_413(home: Path, api_key: str) -> None:
    settings = make_settings(home, MAX_SCRIPT_BYTES=250_000)
    bus = MemoryEventBus()
    launcher = FakeLauncher(settings, bus)
    script = "// " + "x" * 249_000 + "\n" + SCRIPT
    tests = [{"name": f"t{i}", "script": script} for i in range(MAX_RUN_SCRIPT_BYTES // len(script) + 1)]
    with TestClient(create_app(settings, launcher, bus=bus)) as client:
        client.headers["Authorization"] = f"Bearer {api_key}"
        res = client.post("/api/jobs/run", json={"tests": tests})
        assert res.status_code == 413, res.text
        assert "ConfigMap" in res.json()["message"]
        assert res.json()["details"]["limit"] == MAX_RUN_SCRIPT_BYTES
        fits = client.post("/api/jobs/run", json={"tests": tests[:-1]})
        assert fits.status_code == 202, fits.text
    assert len(launcher.submitted) == 1


@pytest.mark.parametrize(
    ("status", "expected"), [(413, 413), (422, 422), (400, 422), (404, 422), (409, 409), (403, 502), (500, 503)]
)
def test_apiserver_refusals_map_to_clear_answers(status: int, expected: int) -> None:
    mapped = from_kube(KubeError(status, "Invalid", "spec.tests: Too many: 51: must have at most 50 items"))
    assert mapped.status_code == expected
    assert "Kubernetes" in mapped.message


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/api/test", {"testId": "", "testRetries": 3}),  # found by Schemathesis: an assert, a 500
        ("POST", "/api/jobs/run", {"jobId": ""}),
        ("POST", "/api/tests/" + "\U0001d4e3" * 33 + "/run", None),  # found by Schemathesis: a ValidationError, a 500
        ("POST", "/api/jobs/" + "x" * 33 + "/run", None),
    ],
)
def test_empty_or_overlong_ids_are_422_not_500(client: TestClient, method: str, url: str, body: object) -> None:
    res = client.request(method, url, json=body)
    assert res.status_code == 422, res.text
