"""Real Chromium (Debian's) driven by Python Playwright against a real `supertest dev`.

One server is shared by the modules that need ordinary capacity (session scope: starting `supertest dev`
costs seconds on two cores); modules that need their own settings define their own `server` fixture.
Every page watches its requests: nothing may leave the app's host (fonts, CDNs, telemetry).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Request, expect, sync_playwright

from tests.support.local_server import REPO, LocalServer, local_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Runs take seconds and share two cores with the server and the browser: be generous, but poll.
expect.set_options(timeout=20_000)
# Video is not asserted outside test_local_page (which has its own server): keep the runs light.
LIGHT_RUNS = {"RUNNING_CAPACITY": "2", "PW_VIDEO": "off", "MAX_CONCURRENT_TESTS": "1"}


@pytest.fixture(scope="session", autouse=True)
def ui_built() -> None:
    # A no-op in milliseconds when bootstrap.sh already built these sources; builds them otherwise.
    subprocess.run(["bash", str(REPO / "scripts" / "build-ui.sh")], check=True, cwd=REPO)


# Package scope, not session: the sync API refuses to start while another instance's loop is running, and
# tests elsewhere (tests/integration) open their own sync_playwright() after this package has finished.
@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory, ui_built: None) -> Iterator[LocalServer]:
    with local_server(tmp_path_factory.mktemp("ui-shared"), LIGHT_RUNS) as srv:
        yield srv


@pytest.fixture(scope="session")
def server(shared_server: LocalServer) -> LocalServer:
    return shared_server


def watch_foreign_requests(context: BrowserContext, *app_urls: str) -> list[str]:
    """Requests to any host but the app's own origins (the UI/API and the artifacts origin)."""
    foreign: list[str] = []
    app_hosts = {urlparse(url).netloc for url in app_urls}

    def watch(request: Request) -> None:
        parsed = urlparse(request.url)
        if parsed.scheme in ("http", "https", "ws", "wss") and parsed.netloc not in app_hosts:
            foreign.append(request.url)

    # On the context, so report iframes, the trace viewer and pages opened from links are watched too.
    context.on("request", watch)
    return foreign


@pytest.fixture
def page(browser: Browser, server: LocalServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=server.url)
    foreign = watch_foreign_requests(context, server.url, server.artifacts_url)
    page = context.new_page()
    yield page
    context.close()
    assert not foreign, f"requests left the app's host: {foreign}"


SCREENSHOTS = REPO / "docs" / "screenshots"


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots are always taken (a page that cannot render fails the test); they replace the README's
    committed ones only with SUPERTEST_UPDATE_SCREENSHOTS=1, so a test run leaves the work tree clean."""
    if os.environ.get("SUPERTEST_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")
