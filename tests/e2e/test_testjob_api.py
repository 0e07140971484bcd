"""API jobs and GitOps TestJobs meet in one scheduler: the API writes TestJobs, the operator mirrors them back.

The operator and the API each run as their ServiceAccount with only deploy/rbac/{operator,api}.yaml.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from supertest.kube.names import GROUP, VERSION
from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory, apply_rbac, can_i, wait_until
from tests.e2e.scripts import TINY

# Passes only with the TestJob's runTemplate env in place.
NEEDS_GREETING = """\
const { test, expect } = require('@playwright/test');
test('greets', async () => { expect(process.env.GREETING).toBe('hello'); });
"""


def jobs(url: str, auth: dict[str, str]) -> dict[str, dict[str, Any]]:
    listed = httpx.get(f"{url}/api/jobs", headers=auth, timeout=10)
    assert listed.status_code == 200, listed.text
    return {j["id"]: j for j in listed.json()["items"]}


def read_testjob(cluster: Cluster, name: str) -> dict[str, Any]:
    return cluster.custom.get_namespaced_custom_object(GROUP, VERSION, cluster.ns, "testjobs", name)  # type: ignore[no-any-return]


def test_api_jobs_become_testjobs_and_gitops_testjobs_become_read_only_jobs(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory, api: tuple[str, dict[str, str]]
) -> None:
    apply_rbac(cluster, "operator.yaml")
    start_operator(kubeconfig=str(e2e.cp.serviceaccount_kubeconfig(cluster.ns, "supertest-operator")))
    url, auth = api
    assert can_i(cluster, "supertest-api", "create", "testjobs.supertest.dev")
    assert can_i(cluster, "supertest-operator", "patch", "testjobs.supertest.dev", "--subresource=status")
    assert not can_i(cluster, "supertest-operator", "delete", "testjobs.supertest.dev")

    # A job with a schedule, created in the API, is a TestJob naming its stored test.
    test = httpx.post(f"{url}/api/tests", json={"title": "tiny check", "script": TINY}, headers=auth, timeout=10)
    assert test.status_code == 201, test.text
    body = {
        "name": "Nightly smoke",
        "schedule": "0 3 * * *",
        "timeZone": "Europe/Berlin",
        "testIds": [test.json()["id"]],
    }
    created = httpx.post(f"{url}/api/jobs", json=body, headers=auth, timeout=30)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["managedBy"] == "api" and job["resource"]["namespace"] == cluster.ns
    name = job["resource"]["name"]
    tj = read_testjob(cluster, name)
    assert tj["spec"]["schedule"] == "0 3 * * *" and tj["spec"]["timeZone"] == "Europe/Berlin"
    assert [t["testId"] for t in tj["spec"]["tests"]] == [test.json()["id"]]
    assert tj["metadata"]["annotations"]["supertest.dev/job-id"] == job["id"]

    # The operator schedules it: status on the TestJob, and the next run time back in the job's row.
    next_time = wait_until(
        lambda: (read_testjob(cluster, name).get("status") or {}).get("nextScheduleTime"),
        30,
        "the API job's TestJob scheduled",
    )
    wait_until(
        lambda: (jobs(url, auth)[job["id"]]["nextRunAt"] or "").startswith(next_time[:19]), 30, "nextRunAt mirrored"
    )
    assert next_time[11:19] in ("01:00:00", "02:00:00"), next_time  # 03:00 in Berlin (summer or winter time)

    # A manual run of that TestJob reads the stored test's script at admission, and is linked to the job.
    cluster.kubectl("annotate", "tj", name, "supertest.dev/run-now=once")
    run = wait_until(
        lambda: next(
            iter(
                cluster.custom.list_namespaced_custom_object(
                    GROUP, VERSION, cluster.ns, "jobruns", label_selector=f"supertest.dev/testjob={name}"
                )["items"]
            ),
            None,
        ),
        30,
        "the manual run",
    )
    run_name = run["metadata"]["name"]
    cluster.wait_phase(run_name, "Passed", plural="jobruns", timeout=180)
    row = wait_until(
        lambda: (
            (r := httpx.get(f"{url}/api/runs/{run_name}", headers=auth, timeout=10)).status_code == 200 and r.json()
        ),
        30,
        "the run row",
    )
    assert row["jobId"] == job["id"] and row["trigger"] == "manual"

    # A TestJob applied with kubectl (as Argo CD would) shows in GET /api/jobs as GitOps-managed and read-only.
    manifest = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TestJob",
        "metadata": {"name": "from-git"},
        "spec": {
            "schedule": "@weekly",
            "suspend": True,
            "tests": [{"name": "inline", "script": NEEDS_GREETING}],
            "runTemplate": {"env": [{"name": "GREETING", "value": "hello"}]},
        },
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    gitops = wait_until(
        lambda: next(
            (j for j in jobs(url, auth).values() if (j.get("resource") or {}).get("name") == "from-git"), None
        ),
        30,
        "the GitOps job in GET /api/jobs",
    )
    assert gitops["managedBy"] == "gitops" and gitops["schedule"] == "@weekly" and gitops["suspend"] is True
    assert [(t["title"], t["source"]) for t in gitops["tests"]] == [("inline", "inline")]
    refused = httpx.patch(f"{url}/api/jobs/{gitops['id']}", json={"suspend": False}, headers=auth, timeout=10)
    assert refused.status_code == 409 and "GitOps" in refused.text, refused.text

    # Run now from the API: the run gets what a scheduled run gets, the tests and the runTemplate (its env).
    started = httpx.post(f"{url}/api/jobs/{gitops['id']}/run", headers=auth, timeout=30)
    assert started.status_code == 202, started.text
    run_id = started.json()["runId"]
    spec = cluster.run(run_id, "jobruns")["spec"]  # type: ignore[index]
    assert [(t["name"], t["script"]) for t in spec["tests"]] == [("inline", NEEDS_GREETING)]
    assert spec["env"] == [{"name": "GREETING", "value": "hello"}]
    cluster.wait_phase(run_id, "Passed", plural="jobruns", timeout=180)
    # A JobRun made with kubectl that names the TestJob runs its tests (jobRef, resolved by the operator).
    adhoc = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "JobRun", "metadata": {"name": "adhoc"}}
    cluster.create_run({**adhoc, "spec": {"jobRef": "from-git", "env": [{"name": "GREETING", "value": "hello"}]}})
    cluster.wait_phase("adhoc", "Passed", plural="jobruns", timeout=180)

    # Deleting the TestJob from git removes the job; deleting the API job removes its TestJob.
    cluster.kubectl("delete", "tj", "from-git")
    wait_until(lambda: gitops["id"] not in jobs(url, auth), 30, "the GitOps job gone")
    assert httpx.delete(f"{url}/api/jobs/{job['id']}", headers=auth, timeout=30).status_code == 204
    assert cluster.kubectl("get", "tj", name, check=False).returncode != 0
