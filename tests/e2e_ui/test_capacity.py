"""A full queue and a long run: capacity shown live, the 429 message in plain words, cancelling a run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e_ui.conftest import LIGHT_RUNS
from tests.e2e_ui.helpers import shoot, sign_in
from tests.support.local_server import LocalServer, local_server
from tests.support.scripts import HANG

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ui_built: None) -> Iterator[LocalServer]:
    env = {**LIGHT_RUNS, "RUNNING_CAPACITY": "1", "QUEUED_CAPACITY": "1", "PW_TRACE": "off", "PW_SCREENSHOT": "off"}
    with local_server(tmp_path_factory.mktemp("ui-capacity"), env) as srv:
        yield srv


def submit_hang(server: LocalServer, title: str) -> str:
    with server.client() as client:
        res = client.post("/api/test", json={"script": HANG, "title": title})
        assert res.status_code == 202, res.text
        run_id: str = res.json()["runId"]
        return run_id


def test_full_queue_shows_the_429_message_and_a_long_run_can_be_cancelled(
    page: Page, server: LocalServer, screenshots: Path
) -> None:
    sign_in(page, server, "/capacity")
    expect(page.get_by_label("Running count")).to_have_text("0 / 1")
    expect(page.get_by_text("Nothing is queued or running.")).to_be_visible()

    long_run = submit_hang(server, "Long run")
    waiting = submit_hang(server, "Waiting run")
    # Live: the page polls, no reload.
    expect(page.get_by_label("Running count")).to_have_text("1 / 1")
    expect(page.get_by_label("Queued count")).to_have_text("1 / 1")
    expect(page.get_by_role("alert")).to_contain_text("The queue is full")
    expect(page.locator(f"tr[data-run-id='{long_run}']").get_by_role("status")).to_have_text("Running", timeout=60_000)
    shoot(page, screenshots, "capacity")

    # A submission now is refused; the page says why, in the server's words.
    page.get_by_role("link", name="Playground").click()
    page.get_by_role("button", name="Run").click()
    alert = page.get_by_role("alert").filter(has_text="429")
    expect(alert).to_contain_text("queue is full: 1 runs are waiting and QUEUED_CAPACITY is 1")
    expect(page.get_by_label("Phase")).to_have_text("Idle")
    expect(page.get_by_role("button", name="Run")).to_be_enabled()

    # Cancel the long run from its page; the waiting one is admitted, and cancelled while queued or running.
    page.goto(f"/runs/{long_run}")
    expect(page.get_by_label("Phase")).to_have_text("Running")
    page.get_by_role("button", name="Cancel run").click()
    expect(page.get_by_label("Phase")).to_have_text("Cancelled", timeout=60_000)
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)

    page.goto(f"/runs/{waiting}")
    page.get_by_role("button", name="Cancel run").click()
    expect(page.get_by_label("Phase")).to_have_text("Cancelled", timeout=60_000)
    page.goto("/capacity")
    expect(page.get_by_label("Running count")).to_have_text("0 / 1")
    expect(page.get_by_label("Queued count")).to_have_text("0 / 1")
