"""The API docs page in Chromium: Swagger UI renders the operations from our origin alone, under our CSP."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.support.local_server import LocalServer

pytestmark = pytest.mark.browser


def test_docs_render_the_operations_offline_and_within_the_csp(page: Page, server: LocalServer) -> None:
    # The `page` fixture fails the test if any request leaves the app's host (the CDN FastAPI would use).
    refused: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", watch)
    response = page.goto("/docs")
    assert response is not None and response.ok
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")

    path = page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/test$"))
    submit = page.locator(".opblock-post", has=path)
    expect(submit).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("authorize", re.I)).first).to_be_visible()
    # Expanding an operation renders its details from /openapi.json: the page is interactive, not a shell.
    submit.locator(".opblock-summary").first.click()
    expect(submit.get_by_role("button", name="Try it out")).to_be_visible()
    expect(submit.get_by_text("429").first).to_be_visible()
    assert refused == []
