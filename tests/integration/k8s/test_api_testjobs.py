"""The API in Kubernetes mode keeps each scheduled job's TestJob, on the real control plane.

The API runs as its ServiceAccount with deploy/rbac/api.yaml only (so the RBAC is proven too), against a fresh
Postgres database; no operator runs: what is checked is what the API writes, and how a GitOps TestJob's row
(written as the operator writes it, through supertest.db.testjobs) is served.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml
from supertest_api.app import create_app
from supertest_api.kubernetes.launcher import KubernetesLauncher
from supertest_operator.testjob import TestJobView
from supertest_operator.testjob_mirror import mirror_of

from supertest.bus.memory import MemoryEventBus
from supertest.db import apikeys
from supertest.db import testjobs as rows
from supertest.db.engine import make_engine, make_session_factory, session_scope
from supertest.db.migrate import upgrade
from supertest.kube.models import TestJobSpec, TestJobStatus
from supertest.settings import ApiSettings
from tests.k8s.controlplane import ControlPlane
from tests.k8s.rbac import deploy_rbac_docs
from tests.k8s.wait import wait_for
from tests.support.api_thread import serving

SCRIPT = "import { test } from '@playwright/test';\ntest('ok', async () => {});\n"


@pytest.fixture(scope="module")
def crds(control_plane: ControlPlane) -> None:
    control_plane.install_crds()


def apply_api_rbac(cp: ControlPlane, namespace: str) -> None:
    cp.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(deploy_rbac_docs("api.yaml", namespace)))


@dataclass
class Api:
    url: str
    auth: dict[str, str]
    namespace: str
    cp: ControlPlane
    sessions: Any

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, self.url + path, json=body, headers=self.auth, timeout=30)

    def testjob(self, name: str) -> dict[str, Any] | None:
        out = self.cp.kubectl("-n", self.namespace, "get", "tj", name, "-o", "json", check=False)
        if out.returncode != 0:
            assert "NotFound" in out.stderr, out.stderr
            return None
        obj: dict[str, Any] = json.loads(out.stdout)
        return obj

    def testjob_names(self) -> list[str]:
        out = self.cp.kubectl("-n", self.namespace, "get", "tj", "-o", "json")
        return sorted(item["metadata"]["name"] for item in json.loads(out.stdout)["items"])

    def wait_testjob(self, name: str, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        return wait_for(
            lambda: (obj := self.testjob(name)) is not None and check(obj) and obj,
            timeout=20,
            interval=0.2,
            message=lambda: f"{what}: {json.dumps(self.testjob(name))}",
        )

    def wait_testjob_gone(self, name: str) -> None:
        wait_for(lambda: self.testjob(name) is None, timeout=20, interval=0.2, message=f"TestJob {name} to go")


@pytest.fixture
def api(
    crds: None, control_plane: ControlPlane, k8s_namespace: str, fresh_postgres_db: Callable[[], str]
) -> Iterator[Api]:
    apply_api_rbac(control_plane, k8s_namespace)
    kubeconfig = control_plane.serviceaccount_kubeconfig(k8s_namespace, "supertest-api")
    database_url = fresh_postgres_db()
    upgrade(database_url)
    settings = ApiSettings(
        RUN_BACKEND="kubernetes",
        DATABASE_URL=database_url,
        REDIS_URL=None,
        S3_ENDPOINT=None,
        SESSION_SECRET="testjob-session-secret-0123456789",
        SUPERTEST_NAMESPACE=k8s_namespace,
        SUPERTEST_HOME=str(control_plane.work_dir / f"api-{k8s_namespace}"),
    )
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        _, key = apikeys.create_key(session, "testjobs")
    bus = MemoryEventBus()
    launcher = KubernetesLauncher(settings, sessions, bus, kubeconfig=str(kubeconfig))
    try:
        with serving(create_app(settings, launcher, bus=bus)) as url:
            yield Api(url, {"Authorization": f"Bearer {key}"}, k8s_namespace, control_plane, sessions)
    finally:
        engine.dispose()


def make_test(api: Api, title: str) -> str:
    res = api.call("POST", "/api/tests", {"title": title, "script": SCRIPT})
    assert res.status_code == 201, res.text
    return str(res.json()["id"])


def test_scheduled_api_jobs_are_testjobs(api: Api) -> None:
    search, login = make_test(api, "Search renders"), make_test(api, "Log in")
    created = api.call(
        "POST",
        "/api/jobs",
        {
            "name": "Nightly smoke",
            "schedule": "0 3 * * *",
            "timeZone": "Europe/Berlin",
            "testIds": [login, search],
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 300,
        },
    )
    assert created.status_code == 201, created.text
    job = created.json()
    name = job["resource"]["name"]
    assert job["resource"] == {"namespace": api.namespace, "name": name}
    assert name.startswith("nightly-smoke-") and len(name) <= 43

    obj = api.wait_testjob(name, lambda o: o["spec"]["schedule"] == "0 3 * * *", "the TestJob")
    assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "supertest-api"
    assert obj["metadata"]["annotations"]["supertest.dev/job-id"] == job["id"]
    spec = obj["spec"]
    assert (spec["timeZone"], spec["concurrencyPolicy"], spec["startingDeadlineSeconds"]) == (
        "Europe/Berlin",
        "Forbid",
        300,
    )
    assert spec["tests"] == [
        {"name": "01-Log-in", "testId": login, "language": "javascript"},
        {"name": "02-Search-renders", "testId": search, "language": "javascript"},
    ]
    TestJobSpec.model_validate(spec)  # what the operator will parse
    printed = api.cp.kubectl("-n", api.namespace, "get", "tj", name).stdout
    assert "0 3 * * *" in printed  # the Schedule printer column

    # PATCH: schedule, policy, order and a rename; the TestJob (same name) follows.
    patched = api.call(
        "PATCH",
        f"/api/jobs/{job['id']}",
        {"schedule": "*/15 * * * *", "concurrencyPolicy": "Replace", "testIds": [search], "name": "Renamed"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["resource"]["name"] == name
    api.wait_testjob(
        name,
        lambda o: (
            o["spec"]["schedule"] == "*/15 * * * *"
            and o["spec"]["concurrencyPolicy"] == "Replace"
            and [t["testId"] for t in o["spec"]["tests"]] == [search]
            and o["metadata"]["annotations"]["supertest.dev/title"] == "Renamed"
        ),
        "the TestJob to be updated",
    )

    # Removing the schedule removes the TestJob; adding one back writes it again.
    cleared = api.call("PATCH", f"/api/jobs/{job['id']}", {"schedule": ""})
    assert cleared.status_code == 200 and cleared.json()["resource"] is None, cleared.text
    api.wait_testjob_gone(name)
    again = api.call("PATCH", f"/api/jobs/{job['id']}", {"schedule": "@hourly"})
    assert again.status_code == 200, again.text
    second = again.json()["resource"]["name"]
    api.wait_testjob(second, lambda o: o["spec"]["schedule"] == "@hourly", "the TestJob written again")

    # Deleting the job deletes its TestJob.
    assert api.call("DELETE", f"/api/jobs/{job['id']}").status_code == 204
    api.wait_testjob_gone(second)

    # A job without a schedule has no TestJob.
    manual = api.call("POST", "/api/jobs", {"name": "By hand", "testIds": [search]})
    assert manual.status_code == 201 and manual.json()["resource"] is None
    assert api.testjob_names() == []
    # A scheduled job with no tests is refused (its TestJob could not run anything), and not saved.
    empty = api.call("POST", "/api/jobs", {"name": "Empty", "schedule": "@daily"})
    assert empty.status_code == 422, empty.text
    assert api.testjob_names() == []
    assert [j["name"] for j in api.call("GET", "/api/jobs").json()["items"]] == ["By hand"]


def test_gitops_testjobs_are_read_only_jobs_whose_runs_copy_them(api: Api) -> None:
    stored = make_test(api, "Stored check")
    manifest = {
        "apiVersion": "supertest.dev/v1alpha1",
        "kind": "TestJob",
        "metadata": {"name": "synthetics", "namespace": api.namespace},
        "spec": {
            "schedule": "*/5 * * * *",
            "concurrencyPolicy": "Forbid",
            "tests": [
                {"name": "inline-check", "script": SCRIPT},
                {"name": "cm-check", "scriptFrom": {"configMapKeyRef": {"name": "checks", "key": "a.spec.js"}}},
                {"name": "stored-check", "testId": stored},
            ],
        },
    }
    api.cp.kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))
    applied = api.wait_testjob("synthetics", lambda o: True, "the GitOps TestJob")
    # The row the operator's mirror writes for it (its own code; no operator process runs here).
    view = TestJobView.from_body({**applied, "kind": "TestJob"})
    mirror = mirror_of(view, TestJobSpec.model_validate(applied["spec"]), TestJobStatus(), [])
    with session_scope(api.sessions) as session:
        job_id = rows.mirror_testjob(session, mirror)

    listed = {j["id"]: j for j in api.call("GET", "/api/jobs").json()["items"]}
    job = listed[job_id]
    assert job["managedBy"] == "gitops"
    assert job["resource"] == {"namespace": api.namespace, "name": "synthetics"}
    assert (job["schedule"], job["concurrencyPolicy"]) == ("*/5 * * * *", "Forbid")
    assert [(t["title"], t["source"], t["id"]) for t in job["tests"]] == [
        ("inline-check", "inline", None),
        ("cm-check", "configMap", None),
        ("Stored check", "stored", stored),
    ]

    put = api.call("PUT", f"/api/jobs/{job_id}", {"name": "mine now", "schedule": "@daily", "testIds": [stored]})
    assert put.status_code == 409, put.text
    assert f"managed by GitOps (TestJob {api.namespace}/synthetics); change it in git" in put.json()["message"]
    assert api.call("DELETE", f"/api/jobs/{job_id}").status_code == 409
    assert api.testjob("synthetics")["spec"]["schedule"] == "*/5 * * * *"  # type: ignore[index]

    # Run now: a JobRun with what a scheduled run of the TestJob gets (its tests, copied; no jobRef).
    run = api.call("POST", f"/api/jobs/{job_id}/run")
    assert run.status_code == 202, run.text
    run_id = run.json()["runId"]
    out = api.cp.kubectl("-n", api.namespace, "get", "jobrun", run_id, "-o", "json")
    jobrun = json.loads(out.stdout)
    assert "jobRef" not in jobrun["spec"]
    assert [t["name"] for t in jobrun["spec"]["tests"]] == ["inline-check", "cm-check", "stored-check"]
    assert jobrun["spec"]["tests"][2]["testId"] == stored
    assert jobrun["metadata"]["annotations"]["supertest.dev/job-id"] == job_id
