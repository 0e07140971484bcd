"""What a person does in the UI, as reusable steps (sign in, type a script, read the phase history)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.local_server import LocalServer


def sign_in(page: Page, server: LocalServer, path: str = "/") -> None:
    page.goto(path)
    page.get_by_label(re.compile("api key", re.I)).fill(server.api_key)
    page.get_by_role("button", name=re.compile("sign in|log in", re.I)).click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def set_script(page: Page, text: str) -> None:
    """Replace the editor's text. insert_text, not typing: CodeMirror would auto-close brackets and indent."""
    editor = page.get_by_label("Script")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)
    expect(editor).to_contain_text(text.strip().splitlines()[-1])


def record_phases(page: Page) -> None:
    """Remember every text the phase badge shows, so a short-lived phase (Queued) cannot be missed."""
    page.evaluate(
        """() => {
          const badge = document.querySelector('output[aria-label="Phase"]');
          window.__phases = [badge.textContent];
          new MutationObserver(() => {
            const last = window.__phases[window.__phases.length - 1];
            if (badge.textContent !== last) window.__phases.push(badge.textContent);
          }).observe(badge, { childList: true, characterData: true, subtree: true });
        }"""
    )


def seen_phases(page: Page) -> list[str]:
    phases: list[str] = page.evaluate("() => window.__phases")
    return phases


def shoot(page: Page, directory: Path, name: str) -> None:
    """A 1280x720 screenshot for the README, without toasts (they depend on timing). They are dismissed like a
    person would: the page's CSP (rightly) blocks the stylesheet Playwright's `style=` option would inject."""
    close = page.get_by_role("button", name="Dismiss notification")
    while close.count():
        close.first.click()
    page.screenshot(path=str(directory / f"{name}.png"), caret="hide")
