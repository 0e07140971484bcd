"""Kubernetes mode: per-test rows and flakiness on the real control plane. A TestRun with spec.testRetries whose
test fails once and passes on retry is flaky in its status and in Postgres' test_results (the operator's mirror
reads the run's results.json from S3); a quarantined failing test leaves its TestRun Passed with quarantined 1."""

from __future__ import annotations

import sqlalchemy as sa

from supertest.db import test_results
from supertest.db.models import QuarantinedTestRecord, RunRecord
from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory, make_testrun
from tests.k8s.wait import wait_for

FLAKY = """\
const { test, expect } = require('@playwright/test');
test('fails first, passes on retry', async ({ page }, testInfo) => {
  await page.setContent(`<p>${testInfo.retry}</p>`);
  await expect(page.locator('p')).toHaveText('1', { timeout: 500 });
});
"""

BROKEN = """\
const { test, expect } = require('@playwright/test');
test('quarantined and broken', async ({ page }) => {
  await page.setContent('<h1>actual</h1>');
  await expect(page.locator('h1')).toHaveText('expected', { timeout: 300 });
});
"""

QUARANTINED = "test.spec.js > quarantined and broken"
DONE = {"Passed", "Failed", "Error"}


def rows_of(engine: sa.Engine, run_id: str) -> list[tuple[str, str, int]]:
    with sa.orm.Session(engine) as session:
        return [(r.test_id, r.status, r.retries) for r in test_results.for_run(session, run_id)]


def test_flaky_and_quarantined_tests_in_kubernetes_mode(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory
) -> None:
    engine = sa.create_engine(e2e.database_url)
    try:
        with sa.orm.Session(engine) as session, session.begin():
            # A TestRun's script is the pod's tests/test.spec.js (builders.script_files).
            session.merge(QuarantinedTestRecord(test_id=QUARANTINED, reason="e2e", by="t"))
        start_operator()
        cluster.apply(make_testrun("flaky", FLAKY, testRetries=1, timeoutSeconds=180))
        cluster.apply(make_testrun("broken", BROKEN, timeoutSeconds=180))

        flaky = cluster.wait_phase("flaky", DONE, timeout=240)
        assert flaky["status"]["phase"] == "Passed", cluster.describe("flaky")
        assert flaky["status"]["summary"]["flaky"] == 1
        rows = wait_for(lambda: rows_of(engine, "flaky"), timeout=30, message="flaky's test_results rows")
        assert [(status, retries) for _, status, retries in rows] == [("flaky", 1)]
        assert rows[0][0].endswith(" > fails first, passes on retry")

        name = "broken"
        broken = cluster.wait_phase(name, DONE, timeout=240)
        assert broken["status"]["phase"] == "Passed", cluster.describe(name)
        assert (broken["status"]["summary"]["failed"], broken["status"]["summary"]["quarantined"]) == (0, 1)
        rows = wait_for(lambda: rows_of(engine, name), timeout=30, message="quarantined row")
        assert rows == [(QUARANTINED, "quarantined", 0)]

        def mirrored() -> RunRecord | None:
            with sa.orm.Session(engine) as session:
                row = session.get(RunRecord, name)
                return row if row is not None and row.phase == "Passed" else None

        assert wait_for(mirrored, timeout=20, message="the run row").quarantined == 1
    finally:
        with sa.orm.Session(engine) as session, session.begin():
            session.execute(sa.delete(QuarantinedTestRecord).where(QuarantinedTestRecord.test_id == QUARANTINED))
        engine.dispose()
