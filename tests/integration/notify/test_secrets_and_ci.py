"""Done-when 3 and 4 on a real `supertest dev` (the runner and Playwright, the API, SSE, the artifacts folder):

- a run's script prints a secret it was given: the live log, the SSE stream, logs.txt, results.json and the error
  message show the mask, never the value; the API returns the secret without its value; the database file never
  holds the value in clear;
- a job-scoped CI key runs its job (202, as every submit route answers) and gets 403 anywhere else; `supertest run
  --job NAME --wait --junit out.xml` writes JUnit XML valid against the JUnit schema and exits 1 on a failing job.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import xmlschema

from tests.support.local_server import REPO, LocalServer, local_server

pytestmark = pytest.mark.browser

SECRET = "s3cr3t-Value-42"
SCRIPT = """
const { test, expect } = require('@playwright/test');
test('uses the token', async () => {
  console.log('token is ' + process.env.API_TOKEN + ' and greeting is ' + process.env.GREETING);
  expect(process.env.API_TOKEN).toBe('the wrong token');
});
"""
JOB_SCRIPT = """
const { test, expect } = require('@playwright/test');
test('passes', async () => { expect(1).toBe(1); });
test('fails on purpose', async () => { expect(2, 'two is not three').toBe(3); });
"""
SCHEMA = REPO / "tests" / "schemas" / "junit-10.xsd"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with local_server(tmp_path_factory.mktemp("secrets-ci"), {"PW_VIDEO": "off", "PW_TRACE": "off"}) as srv:
        yield srv


@pytest.fixture
def client(server: LocalServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def sse_text(client: httpx.Client, run_id: str) -> str:
    """The whole SSE stream of a finished run (replayed from the start)."""
    lines: list[str] = []
    with client.stream("GET", f"/api/test-status/sse/{run_id}", timeout=60) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            lines.append(line)
            if (
                line.startswith("data:")
                and '"phase"' in line
                and any(f'"{p}"' in line for p in ("Passed", "Failed", "Error", "TimedOut", "Cancelled"))
            ):
                break
    return "\n".join(lines)


def test_a_printed_secret_is_masked_everywhere_and_never_returned(server: LocalServer, client: httpx.Client) -> None:
    created = client.post("/api/variables", json={"name": "API_TOKEN", "value": SECRET, "secret": True})
    assert created.status_code == 201, created.text
    assert created.json()["value"] is None and created.json()["secret"] is True
    assert client.post("/api/variables", json={"name": "GREETING", "value": "hello-plain"}).status_code == 201
    listed = client.get("/api/variables").json()["items"]
    assert {v["name"]: v["value"] for v in listed} == {"API_TOKEN": None, "GREETING": "hello-plain"}
    assert SECRET not in json.dumps(listed)
    # Bad input is a clear 4xx: a reserved name, a secret too short to mask, an unknown field.
    assert client.post("/api/variables", json={"name": "SUPERTEST_X", "value": "x"}).status_code == 422
    assert client.post("/api/variables", json={"name": "T", "value": "abc", "secret": True}).status_code == 422
    assert client.post("/api/variables", json={"name": "U", "value": "v", "colour": "red"}).status_code == 422

    submitted = client.post("/api/test", json={"script": SCRIPT, "title": "secret printer"})
    assert submitted.status_code == 202, submitted.text
    run_id = submitted.json()["runId"]
    run = server.wait_terminal(client, run_id)
    assert run["phase"] == "Failed", run

    stream = sse_text(client, run_id)
    logs = client.get(f"/api/test-results/{run_id}/logs.txt", follow_redirects=True).text
    results = client.get(f"/api/test-results/{run_id}/results.json", follow_redirects=True).text
    # The script really printed it (the plain variable shows), and every copy has the mask instead.
    for name, text in {"sse": stream, "logs.txt": logs, "results.json": results}.items():
        assert "hello-plain" in text, name
        assert "token is *** and greeting is hello-plain" in text, name
        assert SECRET not in text, name
    # The failing expect() quotes the received value: masked in the error too.
    assert SECRET not in json.dumps(run)
    db_bytes = b"".join(p.read_bytes() for p in server.home.glob("supertest.db*"))
    assert SECRET.encode() not in db_bytes


def cli(server: LocalServer, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUPERTEST_HOME": str(server.home), "SUPERTEST_SERVER": server.url, "SUPERTEST_API_KEY": key}
    return subprocess.run(
        [sys.executable, "-m", "supertest.cli.main", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_job_scoped_key_runs_its_job_only_and_the_cli_gate_writes_valid_junit(
    server: LocalServer, client: httpx.Client, tmp_path: Path
) -> None:
    test = client.post("/api/tests", json={"title": "ci smoke", "script": JOB_SCRIPT}).json()
    job = client.post("/api/jobs", json={"name": "ci-gate", "testIds": [test["id"]]}).json()
    other = client.post("/api/jobs", json={"name": "other-job", "testIds": [test["id"]]}).json()
    other_run = client.post(f"/api/jobs/{other['id']}/run").json()["runId"]

    made = cli(server, server.api_key, "apikey", "create", "--name", "github-ci", "--job", "ci-gate")
    assert made.returncode == 0, made.stderr
    ci_key = made.stdout.strip().splitlines()[-1]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ci_key}"}, timeout=30) as ci:
        started = ci.post(f"/api/jobs/{job['id']}/run")
        assert started.status_code == 202, started.text
        assert ci.get(f"/api/runs/{started.json()['runId']}").status_code == 200
        assert ci.get("/api/runs", params={"jobId": job["id"]}).status_code == 200
        assert [j["id"] for j in ci.get("/api/jobs").json()["items"]] == [job["id"]]
        forbidden = {
            "another job's run": ci.post(f"/api/jobs/{other['id']}/run"),
            "another job": ci.get(f"/api/jobs/{other['id']}"),
            "another job's run page": ci.get(f"/api/runs/{other_run}"),
            "all runs": ci.get("/api/runs"),
            "a test": ci.get(f"/api/tests/{test['id']}"),
            "tests": ci.get("/api/tests"),
            "the playground": ci.post("/api/test", json={"script": JOB_SCRIPT}),
            "inline jobs": ci.post("/api/jobs/run", json={"tests": [{"name": "x", "script": JOB_SCRIPT}]}),
            "editing its job": ci.put(f"/api/jobs/{job['id']}", json={"name": "x"}),
            "channels": ci.get("/api/notifications/channels"),
            "variables": ci.get("/api/variables"),
            "capacity": ci.get("/api/capacity"),
            "cancel": ci.post(f"/api/runs/{other_run}/cancel"),
        }
        assert {k: r.status_code for k, r in forbidden.items()} == {k: 403 for k in forbidden}
        assert "scoped to job" in forbidden["another job's run"].json()["message"]
    server.wait_terminal(client, started.json()["runId"])

    out = tmp_path / "junit" / "out.xml"
    gate = cli(server, ci_key, "run", "--job", "ci-gate", "--wait", "--junit", str(out), "--quiet")
    assert gate.returncode == 1, (gate.returncode, gate.stderr)
    schema = xmlschema.XMLSchema(str(SCHEMA))
    schema.validate(str(out))  # raises with the offending element if invalid
    doc = schema.to_dict(str(out))
    cases = [c for suite in doc["testsuite"] for c in suite["testcase"]]
    assert sorted(c["@name"] for c in cases) == ["fails on purpose", "passes"]
    failed = next(c for c in cases if c["@name"] == "fails on purpose")
    assert "two is not three" in failed["failure"][0]["@message"]
    assert doc["@tests"] == "2" and doc["@failures"] == "1"
