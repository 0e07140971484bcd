"""Real Chromium (Debian's) driven by Python Playwright against a real `supertest dev`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, Playwright, Request, sync_playwright

from tests.support.local_server import LocalServer, local_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with local_server(tmp_path_factory.mktemp("ui"), {"RUNNING_CAPACITY": "2"}) as srv:
        yield srv


@pytest.fixture
def page(browser: Browser, server: LocalServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=server.url)
    page = context.new_page()
    foreign: list[str] = []
    app_host = urlparse(server.url).netloc

    def watch(request: Request) -> None:
        parsed = urlparse(request.url)
        if parsed.scheme in ("http", "https", "ws", "wss") and parsed.netloc != app_host:
            foreign.append(request.url)

    page.on("request", watch)
    yield page
    context.close()
    assert not foreign, f"requests left the app's host: {foreign}"
