"""The alert channel, rule and secret screens in Chromium, against a real `supertest dev` and real receivers:
create a signed webhook and press Send test (the receiver gets it, the HMAC verifies); a channel that cannot be
reached shows the error; a rule "from the 2nd failure, at most 2"; a secret that is write-only once saved; the run
page listing a run's alerts and their attempts."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e_ui.conftest import LIGHT_RUNS
from tests.e2e_ui.helpers import shoot, sign_in
from tests.support.local_server import LocalServer, free_port, local_server, wait_for
from tests.support.receivers import HttpReceiver, http_receiver

pytestmark = pytest.mark.browser

HMAC_SECRET = "ui-whsec-0123456789"
SECRET_VALUE = "ui-s3cret-token-77"
FAILING = """const { test, expect } = require('@playwright/test');
test('login works', async () => { expect(1, 'login page returned 500').toBe(2); });
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ui_built: None) -> Iterator[LocalServer]:
    env = {**LIGHT_RUNS, "NOTIFY_POLL_SECONDS": "0.3", "PUBLIC_URL": "https://supertest.example.test"}
    with local_server(tmp_path_factory.mktemp("ui-alerts"), env) as srv:
        yield srv


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as r:
        yield r


def make_job(server: LocalServer) -> str:
    with server.client() as client:
        test = client.post("/api/tests", json={"title": "login", "script": FAILING}).json()
        job = client.post("/api/jobs", json={"name": "nightly login", "testIds": [test["id"]]})
        assert job.status_code == 201, job.text
        return str(job.json()["id"])


def test_channels_rules_and_send_test(
    page: Page, server: LocalServer, receiver: HttpReceiver, screenshots: Path
) -> None:
    job_id = make_job(server)
    sign_in(page, server, "/alerts")
    expect(page.get_by_role("heading", name="Alert channels")).to_be_visible()
    expect(page.get_by_text("No channels yet.")).to_be_visible()

    form = page.get_by_role("form", name="New channel")
    form.get_by_label("Channel kind").select_option("webhook")
    form.get_by_label("Name", exact=True).fill("ops-webhook")
    form.get_by_label("URL").fill(f"{receiver.url}/hook")
    form.get_by_label("HMAC secret (write-only)").fill(HMAC_SECRET)
    form.get_by_role("button", name="Create channel").click()
    row = page.get_by_role("table", name="Channels").get_by_role("row", name=re.compile("ops-webhook"))
    expect(row).to_contain_text("hmacSecret set")
    expect(page.get_by_role("table", name="Channels")).not_to_contain_text(HMAC_SECRET)

    page.get_by_role("button", name="Send test to ops-webhook").click()
    expect(page.get_by_label("Send test result for ops-webhook")).to_contain_text("Delivered (200)")
    hooks = receiver.on("/hook")
    assert len(hooks) == 1
    expected = "sha256=" + hmac.new(HMAC_SECRET.encode(), hooks[0].body, hashlib.sha256).hexdigest()
    assert hooks[0].headers["X-Supertest-Signature-256"] == expected
    assert "Send test" in hooks[0].body.decode()

    # An SMTP server that is not there: Send test says so instead of pretending.
    form.get_by_label("Channel kind").select_option("email")
    form.get_by_label("Name", exact=True).fill("ops-email")
    form.get_by_label("SMTP host").fill("127.0.0.1")
    form.get_by_label("Port").fill(str(free_port()))
    form.get_by_label("From").fill("supertest@example.test")
    form.get_by_label("To (comma-separated)").fill("oncall@example.test")
    form.get_by_role("button", name="Create channel").click()
    page.get_by_role("button", name="Send test to ops-email").click()
    expect(page.get_by_label("Send test result for ops-email")).to_contain_text(
        re.compile("Failed: .*(Refused|refused)")
    )

    # A rule: this job's runs alert the webhook from the 2nd consecutive failure on, at most twice a streak.
    rule_form = page.get_by_role("form", name="New rule")
    rule_form.get_by_label("Rule job").select_option(job_id)
    rule_form.get_by_label("Rule channel").select_option(label="ops-webhook")
    rule_form.get_by_label("Failure threshold").fill("2")
    rule_form.get_by_label("Max alerts per streak").fill("2")
    rule_form.get_by_role("button", name="Add rule").click()
    rules = page.get_by_role("table", name="Rules")
    expect(rules.get_by_role("row", name=re.compile("nightly login"))).to_contain_text("failure, recovery")
    expect(rules.get_by_role("row", name=re.compile("nightly login"))).to_contain_text("2")
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, screenshots, "alerts")

    # Two failing runs: the second alerts, and its run page lists the delivery and its attempt.
    with server.client() as client:
        run_ids = []
        for _ in range(2):
            run_id = client.post(f"/api/jobs/{job_id}/run").json()["runId"]
            assert server.wait_terminal(client, run_id)["phase"] == "Failed"
            run_ids.append(run_id)
    wait_for(lambda: len(receiver.on("/hook")) == 2, 30, what="the alert of the second failure")
    page.goto(f"/runs/{run_ids[1]}")
    deliveries = page.get_by_role("table", name="Alert deliveries")
    expect(deliveries).to_contain_text("ops-webhook")
    expect(deliveries).to_contain_text("sent")
    expect(deliveries).to_contain_text(re.compile(r"#1 .*: 200"))
    shoot(page, screenshots, "run-alerts")
    page.goto(f"/runs/{run_ids[0]}")
    expect(page.get_by_role("heading", name="Log", exact=True)).to_be_visible()
    expect(page.get_by_role("table", name="Alert deliveries")).to_have_count(0)  # below the threshold


def test_a_secret_is_write_only_once_saved(page: Page, server: LocalServer, screenshots: Path) -> None:
    sign_in(page, server, "/variables")
    expect(page.get_by_role("heading", name="Variables and secrets")).to_be_visible()
    form = page.get_by_role("form", name="New variable")
    form.get_by_label("Name", exact=True).fill("BASE_URL")
    form.get_by_label("Value").fill("https://shop.example.test")
    form.get_by_role("button", name="Save").click()
    # Saved (the form clears itself when the server answered) before the next one is typed.
    expect(page.get_by_role("table", name="Variables")).to_contain_text("BASE_URL")
    expect(form.get_by_label("Name", exact=True)).to_have_value("")
    form.get_by_label("Name", exact=True).fill("API_TOKEN")
    form.get_by_label("Secret (write-only, masked in logs)").check()
    expect(form.get_by_label("Value")).to_have_attribute("type", "password")
    form.get_by_label("Value").fill(SECRET_VALUE)
    form.get_by_role("button", name="Save").click()

    table = page.get_by_role("table", name="Variables")
    expect(table.get_by_role("row", name=re.compile("API_TOKEN"))).to_contain_text("secret · set")
    expect(table.get_by_role("row", name=re.compile("BASE_URL"))).to_contain_text("https://shop.example.test")
    assert SECRET_VALUE not in page.content()
    # A reserved name is refused with the server's reason.
    form.get_by_label("Name", exact=True).fill("SUPERTEST_RUN_ID")
    form.get_by_label("Value").fill("x")
    form.get_by_label("Secret (write-only, masked in logs)").uncheck()
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_role("alert")).to_contain_text("reserved")
    page.reload()
    expect(page.get_by_role("table", name="Variables")).to_contain_text("API_TOKEN")
    assert SECRET_VALUE not in page.content()
    form = page.get_by_role("form", name="New variable")
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, screenshots, "variables")
