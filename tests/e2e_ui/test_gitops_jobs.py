"""A job mirrored from a GitOps TestJob (as the operator writes it, through supertest.db.testjobs) shows in the
jobs list with a GitOps badge, and its page is read-only, naming the TestJob to change in git."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from supertest.db import testjobs as rows
from supertest.db.engine import make_engine, make_session_factory, session_scope
from tests.e2e_ui.conftest import LIGHT_RUNS
from tests.e2e_ui.helpers import sign_in
from tests.support.local_server import LocalServer, local_server

pytestmark = pytest.mark.browser
TESTJOB = "checkout-synthetics"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ui_built: None) -> Iterator[LocalServer]:
    """Its own server: the shared one's jobs page must start empty for test_jobs_and_runs."""
    with local_server(tmp_path_factory.mktemp("ui-gitops"), LIGHT_RUNS) as srv:
        yield srv


@pytest.fixture(scope="module")
def gitops_job(server: LocalServer) -> str:
    with server.client() as client:
        res = client.post("/api/tests", json={"title": "Stored login", "script": "test('x', async () => {});"})
        assert res.status_code == 201, res.text
        stored = res.json()["id"]
        assert client.post("/api/jobs", json={"name": "Made in the UI", "testIds": [stored]}).status_code == 201
    engine = make_engine(f"sqlite:///{server.home / 'supertest.db'}")
    try:
        with session_scope(make_session_factory(engine)) as session:
            return rows.mirror_testjob(
                session,
                rows.TestJobMirror(
                    namespace="team-a",
                    name=TESTJOB,
                    job_id=None,
                    schedule="*/5 * * * *",
                    time_zone="UTC",
                    concurrency_policy="Forbid",
                    starting_deadline_seconds=None,
                    suspend=False,
                    successful_runs_history_limit=3,
                    failed_runs_history_limit=1,
                    tests=[
                        rows.TestJobTest("01-search", "inline"),
                        rows.TestJobTest("02-login", "stored", stored),
                        rows.TestJobTest("03-cart", "configMap"),
                    ],
                ),
            )
    finally:
        engine.dispose()


def test_gitops_job_is_badged_and_read_only(page: Page, server: LocalServer, gitops_job: str) -> None:
    sign_in(page, server, "/jobs")
    row = page.get_by_role("row").filter(has_text=TESTJOB)
    badge = row.get_by_title(f"managed by GitOps: TestJob team-a/{TESTJOB}")
    expect(badge).to_have_text("GitOps")
    expect(row).to_contain_text("01-search → Stored login → 03-cart")
    expect(row).to_contain_text("*/5 * * * *")
    expect(row.get_by_role("button", name=f"Delete {TESTJOB}")).to_have_count(0)
    expect(row.get_by_role("link", name=f"Edit {TESTJOB}")).to_have_count(0)
    # A job made here has no badge and keeps its controls.
    own = page.get_by_role("row").filter(has_text="Made in the UI")
    expect(own.get_by_text("GitOps")).to_have_count(0)
    expect(own.get_by_role("button", name="Delete Made in the UI")).to_be_visible()

    row.get_by_role("link", name=f"View {TESTJOB}").click()
    expect(page.get_by_role("heading", name=f"Job: {TESTJOB}")).to_be_visible()
    expect(page.get_by_role("note")).to_have_text(
        f"This job is managed by GitOps (TestJob team-a/{TESTJOB}); change it in git."
    )
    expect(page.get_by_role("button", name="Save job")).to_have_count(0)
    expect(page.get_by_label("Name")).to_be_disabled()
    expect(page.get_by_label("Cron schedule (optional)")).to_be_disabled()
    expect(page.get_by_label("Cron schedule (optional)")).to_have_value("*/5 * * * *")
    tests = page.get_by_role("list", name="Job tests").get_by_role("listitem")
    expect(tests).to_have_text(
        [re.compile(r"^01-search \(inline script\)"), re.compile("^Stored login"), re.compile(r"^03-cart \(ConfigMap")]
    )
    expect(page.get_by_role("button", name="Remove 01-search")).to_be_disabled()
    expect(page.get_by_role("button", name="Add test")).to_be_disabled()
