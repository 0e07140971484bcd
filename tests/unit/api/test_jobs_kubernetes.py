"""Jobs in Kubernetes mode: a scheduled job is a TestJob, written through the launcher's client (a fake apiserver
here; tests/integration/k8s/test_api_testjobs.py does the same against the real one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from supertest_api.app import create_app
from supertest_api.kubernetes.launcher import KubernetesLauncher

from supertest.bus.memory import MemoryEventBus
from supertest.db import testjobs as rows
from supertest.db.engine import session_scope
from supertest.db.models import JobRecord
from supertest.kube.client import KubeError
from supertest.settings import ApiSettings
from tests.unit.api.conftest import make_settings

NS = "supertest"
TESTJOBS = f"/apis/supertest.dev/v1alpha1/namespaces/{NS}/testjobs"


class FakeApiserver:
    """Keeps TestJobs by path; `fail` makes the next TestJob write raise it."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []
        self.fail: Exception | None = None

    def _maybe_fail(self) -> None:
        if self.fail is not None:
            raise self.fail

    async def list(self, path: str, label_selector: str | None = None) -> list[dict[str, Any]]:
        return []

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if "/testjobs" in path:
            self._maybe_fail()
            key = f"{path}/{body['metadata']['name']}"
            if key in self.objects:
                raise KubeError(409, "AlreadyExists", "already exists")
            self.objects[key] = body
        self.created.append(body)
        return {**body, "metadata": {**body["metadata"], "uid": "u1"}}

    async def get(self, path: str) -> dict[str, Any]:
        if path not in self.objects:
            raise KubeError(404, "NotFound", "not found")
        return self.objects[path]

    async def request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        assert method == "PUT"
        self._maybe_fail()
        self.objects[path] = kw["body"]
        return kw["body"]

    async def delete(self, path: str, **kw: Any) -> None:
        self._maybe_fail()
        self.objects.pop(path, None)

    async def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return {}

    async def close(self) -> None:
        pass

    def testjobs(self) -> dict[str, dict[str, Any]]:
        return {k.rsplit("/", 1)[1]: v for k, v in self.objects.items() if k.startswith(TESTJOBS + "/")}


@pytest.fixture
def kube() -> FakeApiserver:
    return FakeApiserver()


@pytest.fixture
def kube_settings(home: Path) -> ApiSettings:
    return make_settings(home, RUN_BACKEND="kubernetes", SESSION_SECRET="k" * 32, SUPERTEST_NAMESPACE=NS)


@pytest.fixture
def kclient(
    kube_settings: ApiSettings, kube: FakeApiserver, db: sessionmaker[Session], api_key: str
) -> Iterator[TestClient]:
    bus = MemoryEventBus()
    launcher = KubernetesLauncher(kube_settings, db, bus, kube=kube)  # type: ignore[arg-type]
    with TestClient(create_app(kube_settings, launcher, bus=bus), base_url="http://testserver") as client:
        client.headers["Authorization"] = f"Bearer {api_key}"
        yield client


def make_test(client: TestClient, title: str) -> str:
    res = client.post("/api/tests", json={"title": title, "script": "test('x', async () => {});"})
    assert res.status_code == 201, res.text
    return str(res.json()["id"])


def test_schedule_writes_replaces_and_removes_the_testjob(kclient: TestClient, kube: FakeApiserver) -> None:
    a, b = make_test(kclient, "A"), make_test(kclient, "B")
    res = kclient.post("/api/jobs", json={"name": "Nightly", "schedule": "0 3 * * *", "testIds": [b, a]})
    assert res.status_code == 201, res.text
    job = res.json()
    name = job["resource"]["name"]
    assert job["resource"] == {"namespace": NS, "name": name} and name.startswith("nightly-")
    manifest = kube.testjobs()[name]
    assert manifest["metadata"]["annotations"]["supertest.dev/job-id"] == job["id"]
    assert [t["testId"] for t in manifest["spec"]["tests"]] == [b, a]
    assert job["tests"] == [{"id": b, "title": "B", "source": "stored"}, {"id": a, "title": "A", "source": "stored"}]

    # Rename and change the schedule: the same TestJob (the name is kept), replaced.
    kube.objects[f"{TESTJOBS}/{name}"]["metadata"]["annotations"]["supertest.dev/run-now"] = "1"
    patched = kclient.patch(
        f"/api/jobs/{job['id']}", json={"name": "Renamed", "schedule": "*/10 * * * *", "concurrencyPolicy": "Replace"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["resource"]["name"] == name
    manifest = kube.testjobs()[name]
    assert manifest["spec"]["schedule"] == "*/10 * * * *" and manifest["spec"]["concurrencyPolicy"] == "Replace"
    assert manifest["metadata"]["annotations"]["supertest.dev/title"] == "Renamed"
    assert manifest["metadata"]["annotations"]["supertest.dev/run-now"] == "1"  # others' annotations stay

    removed = kclient.patch(f"/api/jobs/{job['id']}", json={"schedule": ""})
    assert removed.status_code == 200 and removed.json()["resource"] is None
    assert kube.testjobs() == {}

    put = kclient.put(f"/api/jobs/{job['id']}", json={"name": "Again", "schedule": "@hourly", "testIds": [a]})
    assert put.status_code == 200, put.text
    assert list(kube.testjobs()) == [put.json()["resource"]["name"]]
    assert kclient.delete(f"/api/jobs/{job['id']}").status_code == 204
    assert kube.testjobs() == {}


def test_a_job_without_schedule_has_no_testjob(kclient: TestClient, kube: FakeApiserver) -> None:
    res = kclient.post("/api/jobs", json={"name": "Manual", "testIds": [make_test(kclient, "A")]})
    assert res.status_code == 201 and res.json()["resource"] is None
    assert kube.testjobs() == {}


def test_a_scheduled_job_needs_tests_in_kubernetes_mode(kclient: TestClient, kube: FakeApiserver) -> None:
    res = kclient.post("/api/jobs", json={"name": "Empty", "schedule": "@daily"})
    assert res.status_code == 422
    assert "needs 1 to 50 tests" in res.json()["message"]
    assert kclient.get("/api/jobs").json()["total"] == 0


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (KubeError(403, "Forbidden", 'testjobs.supertest.dev is forbidden: User "x" cannot create'), 502, None),
        (OSError("connection refused"), 503, "unavailable"),
    ],
)
def test_a_refused_cluster_write_fails_the_request_and_saves_nothing(
    kclient: TestClient, kube: FakeApiserver, failure: Exception, status: int, code: str | None
) -> None:
    test_id = make_test(kclient, "A")
    kube.fail = failure
    res = kclient.post("/api/jobs", json={"name": "Nightly", "schedule": "0 3 * * *", "testIds": [test_id]})
    assert res.status_code == status, res.text
    body = res.json()
    assert body["error"] == (code or "cluster_write_failed")
    assert "could not write TestJob supertest/nightly-" in body["message"] and "not saved" in body["message"]
    assert kclient.get("/api/jobs").json()["total"] == 0

    kube.fail = None
    job = kclient.post("/api/jobs", json={"name": "Nightly", "schedule": "0 3 * * *", "testIds": [test_id]}).json()
    kube.fail = failure
    assert kclient.patch(f"/api/jobs/{job['id']}", json={"schedule": "0 4 * * *"}).status_code == status
    assert kclient.delete(f"/api/jobs/{job['id']}").status_code == status
    kept = kclient.get(f"/api/jobs/{job['id']}").json()
    assert kept["schedule"] == "0 3 * * *"
    assert kube.testjobs()[job["resource"]["name"]]["spec"]["schedule"] == "0 3 * * *"


def test_a_name_taken_by_another_testjob_is_a_conflict(kclient: TestClient, kube: FakeApiserver) -> None:
    test_id = make_test(kclient, "A")
    job = kclient.post("/api/jobs", json={"name": "Nightly", "schedule": "0 3 * * *", "testIds": [test_id]}).json()
    path = f"{TESTJOBS}/{job['resource']['name']}"
    kube.objects[path]["metadata"]["annotations"]["supertest.dev/job-id"] = "someone-else"
    res = kclient.patch(f"/api/jobs/{job['id']}", json={"schedule": "0 4 * * *"})
    assert res.status_code == 409 and "already exists and is not this job's" in res.json()["message"]


def mirror_gitops(db: sessionmaker[Session], namespace: str, stored: str | None = None) -> str:
    tests = [rows.TestJobTest("01-inline", "inline"), rows.TestJobTest("02-cm", "configMap")]
    if stored:
        tests.append(rows.TestJobTest("03-stored", "stored", stored))
    state = rows.TestJobMirror(
        namespace=namespace,
        name="synthetics",
        job_id=None,
        schedule="*/5 * * * *",
        time_zone="UTC",
        concurrency_policy="Forbid",
        starting_deadline_seconds=None,
        suspend=False,
        successful_runs_history_limit=3,
        failed_runs_history_limit=1,
        tests=tests,
    )
    with session_scope(db) as session:
        return rows.mirror_testjob(session, state)


def test_gitops_jobs_are_listed_read_only_and_run_as_their_testjob(
    kclient: TestClient, kube: FakeApiserver, db: sessionmaker[Session]
) -> None:
    stored = make_test(kclient, "Stored one")
    job_id = mirror_gitops(db, NS, stored)
    job = kclient.get(f"/api/jobs/{job_id}").json()
    assert job["managedBy"] == "gitops"
    assert job["resource"] == {"namespace": NS, "name": "synthetics"}
    assert job["testIds"] == [stored]
    assert job["tests"] == [
        {"id": None, "title": "01-inline", "source": "inline"},
        {"id": None, "title": "02-cm", "source": "configMap"},
        {"id": stored, "title": "Stored one", "source": "stored"},
    ]
    for method, body in (("PUT", {"name": "x"}), ("PATCH", {"name": "x"}), ("DELETE", None)):
        res = kclient.request(method, f"/api/jobs/{job_id}", json=body)
        assert res.status_code == 409, (method, res.text)
        assert f"managed by GitOps (TestJob {NS}/synthetics); change it in git" in res.json()["message"]

    run = kclient.post(f"/api/jobs/{job_id}/run")
    assert run.status_code == 202, run.text
    jobrun = kube.created[-1]
    assert jobrun["kind"] == "JobRun" and jobrun["spec"]["jobRef"] == "synthetics" and "tests" not in jobrun["spec"]
    assert jobrun["metadata"]["annotations"]["supertest.dev/job-id"] == job_id
    assert kclient.get(f"/api/runs/{run.json()['runId']}").json()["jobId"] == job_id


def test_a_gitops_job_in_another_namespace_cannot_be_run_from_the_api(
    kclient: TestClient, kube: FakeApiserver, db: sessionmaker[Session]
) -> None:
    job_id = mirror_gitops(db, "team-b")
    res = kclient.post(f"/api/jobs/{job_id}/run")
    assert res.status_code == 409
    message = res.json()["message"]
    assert "outside the API's namespace 'supertest'" in message and "kubectl -n team-b annotate" in message
    assert not [o for o in kube.created if o["kind"] == "JobRun"]


def test_local_mode_keeps_jobs_in_the_database_only(client: TestClient, db: sessionmaker[Session]) -> None:
    test_id = make_test(client, "A")
    job = client.post("/api/jobs", json={"name": "N", "schedule": "@daily", "testIds": [test_id]}).json()
    assert job["resource"] is None
    with session_scope(db) as session:
        record = session.get(JobRecord, job["id"])
        assert record is not None and record.k8s_name is None
    # A GitOps row cannot arise locally; if one did, running it says why it cannot.
    gitops = mirror_gitops(db, "ns")
    res = client.post(f"/api/jobs/{gitops}/run")
    assert res.status_code == 409 and "runs only in Kubernetes mode" in res.json()["message"]
