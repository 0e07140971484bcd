"""The web UI: a single-page app (Preact + CodeMirror 6, bundled by Vite) served by the API itself."""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass

from supertest_api.ui import repository

NONCE_PLACEHOLDER = "{{CSP_NONCE}}"


def content_security_policy(nonce: str, artifacts_origin: str | None = None) -> str:
    # Everything comes from our origin, except run files: the report iframe and the report check load them from
    # the artifacts origin (never ours). CodeMirror injects one <style> element for its theme: it carries the
    # per-response nonce, so no 'unsafe-inline' is needed.
    artifacts = f" {artifacts_origin}" if artifacts_origin else ""
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; img-src 'self' data:{artifacts}; "
        f"font-src 'self'; connect-src 'self'{artifacts}; frame-src 'self'{artifacts}; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    )


# The "not built" page is static and self-contained: its own small <style> block only.
NOT_BUILT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"

# Client-side routes (ui/src/App.tsx); the server answers each with the same index.html so reloads and
# shared links work. `{item}` is a test, job or run id, or `new`.
PAGE_PATHS = (
    "/",
    "/login",
    "/playground",
    "/tests",
    "/tests/{item}",
    "/jobs",
    "/jobs/{item}",
    "/runs",
    "/alerts",
    "/variables",
    "/runs/{item}",
    "/capacity",
    "/health",
)


class UiNotBuilt(Exception):
    def __init__(self) -> None:
        super().__init__("the web UI is not built")
        self.page = repository.read_not_built_page().replace("{{UI_DIR}}", html.escape(str(repository.build_dir())))


@dataclass(frozen=True, slots=True)
class Page:
    html: str
    csp: str


def index_page(artifacts_origin: str | None = None) -> Page:
    # Read per request (under 1 kB): a rebuild that re-links dist/ is picked up without a restart.
    page = repository.read_index()
    if page is None:
        raise UiNotBuilt()
    nonce = secrets.token_urlsafe(16)
    return Page(html=page.replace(NONCE_PLACEHOLDER, nonce), csp=content_security_policy(nonce, artifacts_origin))
