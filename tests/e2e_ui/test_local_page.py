"""The newcomer's path: sign in, run the template from the page, watch it pass, open its report and video."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urljoin

import pytest
from playwright.sync_api import Page, expect

from tests.support.local_server import LocalServer, local_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ui_built: None) -> Iterator[LocalServer]:
    # Default settings (video on), exactly what `supertest dev` gives a newcomer.
    with local_server(tmp_path_factory.mktemp("ui-newcomer"), {"RUNNING_CAPACITY": "2"}) as srv:
        yield srv


def sign_in(page: Page, server: LocalServer) -> None:
    page.goto("/")
    page.get_by_label(re.compile("api key", re.I)).fill(server.api_key)
    page.get_by_role("button", name=re.compile("sign in|log in", re.I)).click()


def test_example_runs_from_the_page_and_its_report_opens(page: Page, server: LocalServer):
    sign_in(page, server)
    script = page.get_by_label("Script")
    expect(script).to_contain_text("Hello from Supertest", timeout=15_000)

    seen: list[str] = []
    phase = page.get_by_label("Phase")
    page.get_by_role("button", name="Run").click()
    for expected in ("Running", "Passed"):
        expect(phase).to_have_text(re.compile(expected), timeout=120_000)
        seen.append(phase.inner_text())
    assert any("Running" in s for s in seen) and "Passed" in seen[-1]
    expect(page.get_by_label("Log")).to_contain_text(re.compile("passed", re.I), timeout=30_000)

    report = page.frame_locator("iframe[title='Report']")
    expect(report.get_by_text("a counter increments when clicked")).to_be_visible(timeout=30_000)
    iframe_src = page.locator("iframe[title='Report']").get_attribute("src") or ""
    assert iframe_src.startswith(server.artifacts_url + "/")  # reports never run on the UI's origin
    expect(page.get_by_role("link", name="Video 1")).to_be_visible()

    # Test details in the report: the video is served with range support and the trace viewer opens.
    report.get_by_text("a counter increments when clicked").first.click()
    video = report.locator("video")
    expect(video).to_have_count(1, timeout=15_000)
    video_src = video.get_attribute("src") or video.locator("source").first.get_attribute("src") or ""
    assert video_src.endswith(".webm")
    trace_link = report.locator("a[href*='trace/index.html']").first
    trace_href = trace_link.get_attribute("href") or ""
    assert "trace=" in trace_href

    base = iframe_src.removesuffix("index.html")
    video_url = urljoin(base, video_src)
    ranged = page.request.get(video_url, headers={"Range": "bytes=0-99"})
    assert ranged.status == 206 and len(ranged.body()) == 100
    page.goto(urljoin(base, trace_href))
    expect(page.get_by_text(re.compile("click", re.I)).first).to_be_visible(timeout=30_000)
