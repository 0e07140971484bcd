"""Kubernetes mode: `kubectl annotate tr/x supertest.dev/rerun=failed` on the real control plane. The operator
creates a TestRun of x's failed tests (spec.rerunOf, spec.onlyTests), records its name on x (annotation and
Event), and the new run's pod runs exactly that one test."""

from __future__ import annotations

import sqlalchemy as sa

from supertest.db import test_results
from supertest.kube.names import ANNOTATION_RERUN, ANNOTATION_RERUN_RUN
from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory, make_testrun
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


def test_annotate_rerun_failed_creates_a_run_of_the_failed_test(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory
) -> None:
    engine = sa.create_engine(e2e.database_url)
    try:
        start_operator()
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
