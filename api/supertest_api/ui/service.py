"""The minimal web UI: one page, its script and stylesheet, all shipped in the package (no CDN)."""

from __future__ import annotations

import html
from functools import cache

from supertest.examples import EXAMPLE_SCRIPT
from supertest_api.ui import repository

# Scripts and styles come only from our origin; the report iframe is same-origin too.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@cache
def index_html() -> str:
    # The example is the fallback; the page swaps in the first stored test once signed in.
    return repository.read_template().replace("{{EXAMPLE_SCRIPT}}", html.escape(EXAMPLE_SCRIPT))
