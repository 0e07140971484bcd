"""Kubernetes mode on the real control plane, the operator running as its ServiceAccount (deploy/rbac/operator.yaml):
`kubectl annotate tr/x supertest.dev/rerun=failed` makes the operator create a TestRun of x's failed tests
(spec.rerunOf, spec.onlyTests) and record its name on x (annotation and Event); `POST /api/runs/{id}/rerun` does
the same through the API's KubernetesLauncher. Either way the new run's pod runs exactly the failed test."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from supertest.db import test_results
from supertest.kube.names import ANNOTATION_RERUN, ANNOTATION_RERUN_RUN
from tests.e2e.conftest import TERMINAL, Cluster, E2eEnv, OperatorFactory, apply_rbac, make_testrun
from tests.k8s.wait import wait_for

THREE_TESTS = """\
const { test, expect } = require('@playwright/test');
test('one', async ({ page }) => {
  await page.setContent('<p>1</p>');
  await expect(page.locator('p')).toHaveText('1');
});
test('two breaks', async ({ page }) => {
  await page.setContent('<p>2</p>');
  await expect(page.locator('p')).toHaveText('3', { timeout: 300 });
});
test('three', async ({ page }) => {
  await page.setContent('<p>3</p>');
  await expect(page.locator('p')).toHaveText('3');
});
"""
FAILING = "test.spec.js > two breaks"  # a TestRun's script is the pod's tests/test.spec.js
DONE = {"Passed", "Failed", "Error"}


def rows_of(engine: sa.Engine, run_id: str) -> list[tuple[str, str]]:
    with sa.orm.Session(engine) as session:
        return [(r.test_id, r.status) for r in test_results.for_run(session, run_id)]


def start_as_serviceaccount(e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory) -> None:
    """With the chart's RBAC only: creating the re-run needs `create` on testruns."""
    apply_rbac(cluster, "operator.yaml")
    start_operator(kubeconfig=str(e2e.cp.serviceaccount_kubeconfig(cluster.ns, "supertest-operator")))


def test_annotate_rerun_failed_creates_a_run_of_the_failed_test(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory
) -> None:
    engine = sa.create_engine(e2e.database_url)
    try:
        start_as_serviceaccount(e2e, cluster, start_operator)
        cluster.apply(make_testrun("shop", THREE_TESTS, timeoutSeconds=180))
        original = cluster.wait_phase("shop", DONE, timeout=240)
        assert original["status"]["phase"] == "Failed", cluster.describe("shop")
        rows = wait_for(lambda: rows_of(engine, "shop"), timeout=30, message="shop's test_results rows")
        assert sorted(rows) == sorted(
            [("test.spec.js > one", "passed"), (FAILING, "failed"), ("test.spec.js > three", "passed")]
        )

        cluster.kubectl("annotate", "tr/shop", f"{ANNOTATION_RERUN}=failed")

        def rerun_name() -> str | None:
            annotations = (cluster.run("shop") or {}).get("metadata", {}).get("annotations") or {}
            done = ANNOTATION_RERUN not in annotations
            return annotations.get(ANNOTATION_RERUN_RUN) if done else None

        name = wait_for(rerun_name, timeout=60, message="the re-run's name on the original")
        rerun = cluster.wait_phase(name, DONE, timeout=240)
        assert rerun["spec"]["rerunOf"] == "shop" and rerun["spec"]["onlyTests"] == [FAILING]
        assert rerun["status"]["phase"] == "Failed", cluster.describe(name)
        summary = rerun["status"]["summary"]
        assert (summary["total"], summary["failed"], summary["passed"]) == (1, 1, 0)
        assert wait_for(lambda: rows_of(engine, name), timeout=30, message="the re-run's rows") == [(FAILING, "failed")]
        reasons = [e.reason for e in cluster.events_for("shop")]
        assert "RerunCreated" in reasons, reasons
    finally:
        engine.dispose()


def test_api_rerun_failed_in_kubernetes_mode(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory, api: tuple[str, dict[str, str]]
) -> None:
    start_as_serviceaccount(e2e, cluster, start_operator)
    url, auth = api

    def finished(run_id: str) -> dict[str, object] | None:
        run = httpx.get(f"{url}/api/runs/{run_id}", headers=auth, timeout=10).json()
        return run if run["phase"] in TERMINAL else None

    submitted = httpx.post(f"{url}/api/test", json={"script": THREE_TESTS, "title": "shop"}, headers=auth, timeout=30)
    assert submitted.status_code == 202, submitted.text
    original_id = submitted.json()["runId"]
    original = wait_for(lambda: finished(original_id), timeout=240, message="the original run")
    assert original["phase"] == "Failed", original

    # The operator's mirror records the per-test rows after the terminal status: until then there is nothing to
    # re-run (409), after it the re-run starts (202). Poll that against a deadline.
    def rerun_once_recorded() -> httpx.Response | None:
        response = httpx.post(
            f"{url}/api/runs/{original_id}/rerun", params={"only": "failed"}, headers=auth, timeout=30
        )
        return None if response.status_code == 409 else response

    response = wait_for(rerun_once_recorded, timeout=60, interval=0.5, message="the original run's recorded tests")
    assert response.status_code == 202, response.text
    rerun_id = response.json()["runId"]
    rerun = wait_for(lambda: finished(rerun_id), timeout=240, message="the re-run")
    assert rerun["rerunOf"] == original_id and rerun["onlyTests"] == [FAILING]
    assert rerun["phase"] == "Failed", rerun
    summary = rerun["summary"]
    assert isinstance(summary, dict) and (summary["total"], summary["failed"]) == (1, 1)
    resource = cluster.run(rerun_id) or {}
    assert resource["spec"]["rerunOf"] == original_id and resource["spec"]["onlyTests"] == [FAILING]
