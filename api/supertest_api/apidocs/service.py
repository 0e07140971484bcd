"""The interactive API docs (Swagger UI) at /docs, every file of it served by the API itself.

FastAPI's built-in /docs loads Swagger UI from a CDN: a blank page on an air-gapped cluster, and one the CSP
of our pages would refuse anyway. Swagger UI's bundle, stylesheet and icon come from the fastapi-offline
wheel (a copy of swagger-ui-dist); our one file beside them is the init script. Both folders are mounted
together at ASSETS_PATH.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from typing import Any

from fastapi.openapi.docs import get_swagger_ui_html, swagger_ui_default_parameters

from supertest_api.ui.service import Page, content_security_policy

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
# Looked up in order by StaticFiles, which fails at startup if either folder is missing.
ASSET_PACKAGES: list[str | tuple[str, str]] = [("supertest_api.apidocs", "static"), ("fastapi_offline", "static")]
INIT_SCRIPT = "swagger-init.js"

# The only <script> without attributes in get_swagger_ui_html's page: its inline SwaggerUIBundle({...}) call.
_INLINE_SCRIPT = re.compile(r"<script>.*?</script>", re.DOTALL)


class DocsPageChanged(RuntimeError):
    pass


def swagger_page(
    *, title: str, openapi_url: str, root_path: str = "", parameters: dict[str, Any] | None = None
) -> Page:
    assets = f"{root_path}{ASSETS_PATH}"
    page = bytes(
        get_swagger_ui_html(
            openapi_url=f"{root_path}{openapi_url}",
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
        ).body
    ).decode()
    # The same settings FastAPI would inline, handed to the static init script instead.
    config = {"url": f"{root_path}{openapi_url}", **swagger_ui_default_parameters, **(parameters or {})}
    init = f'<script src="{assets}/{INIT_SCRIPT}" data-config="{html.escape(json.dumps(config))}"></script>'
    page, replaced = _INLINE_SCRIPT.subn(lambda _: init, page)
    if replaced != 1:
        raise DocsPageChanged(f"expected one inline script in FastAPI's Swagger UI page, found {replaced}")
    # Nothing on the page uses the style nonce; the policy is the web UI's, unchanged.
    return Page(html=page, csp=content_security_policy(secrets.token_urlsafe(16)))
