"""The interactive API docs at /docs: Swagger UI from our own origin only, under the web UI's CSP."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from supertest_api.apidocs import service


class _Refs(HTMLParser):
    """Every URL the page would load (script src, link href, img src) and every inline script's text."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append(values[name] or "")
        if tag == "script":
            self.scripts.append(values)
            self._in_inline_script = not values.get("src")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script and data.strip():
            self.inline.append(data)


def _refs(page: str) -> _Refs:
    parser = _Refs()
    parser.feed(page)
    return parser


def test_docs_page_loads_only_same_origin_assets_that_are_served(anon: TestClient) -> None:
    res = anon.get("/docs")  # public, like /openapi.json
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/html")
    refs = _refs(res.text)
    assert refs.urls, res.text
    for url in refs.urls:
        parsed = urlparse(url)
        assert not parsed.scheme and not parsed.netloc, f"{url} is not same-origin"
        assert parsed.path.startswith(service.ASSETS_PATH + "/"), url
    assert "cdn" not in res.text.lower() and "https://" not in res.text

    expected_types = {
        ".js": ("text/javascript", "application/javascript"),
        ".css": ("text/css",),
        ".png": ("image/png",),
    }
    assert {urlparse(u).path.rsplit(".", 1)[-1] for u in refs.urls} == {"js", "css", "png"}
    for url in refs.urls:
        asset = anon.get(url)
        assert asset.status_code == 200, url
        suffix = "." + url.rsplit(".", 1)[-1]
        assert asset.headers["content-type"].split(";")[0] in expected_types[suffix], (url, asset.headers)
        assert len(asset.content) > 0


def test_docs_page_has_no_inline_script_and_the_ui_policy(anon: TestClient) -> None:
    res = anon.get("/docs")
    refs = _refs(res.text)
    assert refs.inline == []  # script-src 'self': an inline SwaggerUIBundle({...}) call would be refused
    assert [s["src"] for s in refs.scripts] == [
        f"{service.ASSETS_PATH}/swagger-ui-bundle.js",
        f"{service.ASSETS_PATH}/{service.INIT_SCRIPT}",
    ]
    config = json.loads(refs.scripts[1]["data-config"] or "")
    assert config["url"] == "/openapi.json" and config["dom_id"] == "#swagger-ui"
    csp = res.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "connect-src 'self'" in csp and "unsafe" not in csp
    assert res.headers["cache-control"] == "no-store"


def test_init_script_is_served_from_our_package(anon: TestClient) -> None:
    res = anon.get(f"{service.ASSETS_PATH}/{service.INIT_SCRIPT}")
    assert res.status_code == 200
    assert "SwaggerUIBundle(config)" in res.text


def test_root_path_prefixes_every_url() -> None:
    page = service.swagger_page(title="Supertest", openapi_url="/openapi.json", root_path="/supertest").html
    refs = _refs(page)
    assert all(url.startswith("/supertest/docs/assets/") for url in refs.urls), refs.urls
    assert json.loads(refs.scripts[1]["data-config"] or "")["url"] == "/supertest/openapi.json"


def test_parameters_reach_the_init_config_escaped() -> None:
    page = service.swagger_page(title="T", openapi_url="/openapi.json", parameters={"x": "</script><b>\"'"})
    assert "</script><b>" not in page.html
    config = json.loads(_refs(page.html).scripts[1]["data-config"] or "")
    assert config["x"] == "</script><b>\"'" and config["deepLinking"] is True


@pytest.mark.parametrize("path", ["/redoc", "/docs/oauth2-redirect"])
def test_cdn_pages_fastapi_would_add_are_gone(anon: TestClient, path: str) -> None:
    # ReDoc would need its CDN bundle and Google Fonts; the OAuth2 redirect page serves no scheme we declare
    # (API keys by bearer header or cookie).
    assert anon.get(path).status_code == 404


def test_openapi_json_is_unchanged_and_excludes_the_docs_routes(anon: TestClient) -> None:
    spec = anon.get("/openapi.json").json()
    assert not any(re.match(r"^/docs", path) for path in spec["paths"])
