"""The API's edges (issue 12): logout revokes, Secure behind a trusted proxy only, cookie writes need an Origin,
/metrics on its own port. Real uvicorn over HTTP on loopback, so proxy headers and cookies are the real ones."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from supertest_api.app import create_app
from supertest_api.session import COOKIE_NAME

from supertest.bus.memory import MemoryEventBus
from tests.services.procs import free_port
from tests.support.api_thread import serving
from tests.unit.api.conftest import FakeLauncher, make_settings

SCRIPT = "test('a', async () => {})"


@pytest.fixture
def serve(home: Path) -> Iterator[Any]:
    """serve(**settings) -> base URL of a live API with those settings; all stop at the end of the test."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> str:
            settings = make_settings(home, **overrides)
            bus = MemoryEventBus()
            return stack.enter_context(serving(create_app(settings, FakeLauncher(settings, bus), bus=bus)))

        yield start


def _login(url: str, api_key: str, **headers: str) -> httpx.Response:
    response = httpx.post(f"{url}/api/auth/login", json={"apiKey": api_key}, headers=headers)
    assert response.status_code == 200, response.text
    return response


def test_logout_revokes_the_session_server_side(serve: Any, api_key: str) -> None:
    url = serve()
    token = _login(url, api_key).cookies[COOKIE_NAME]
    stolen = {"Cookie": f"{COOKIE_NAME}={token}"}
    assert httpx.get(f"{url}/api/auth/me", headers=stolen).status_code == 200

    out = httpx.post(f"{url}/api/auth/logout", headers={**stolen, "Origin": url})
    assert out.status_code == 204

    # The same cookie value, replayed from anywhere (another tab, a copy), is dead: not only this browser's jar.
    again = httpx.get(f"{url}/api/auth/me", headers=stolen)
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_session"
    assert httpx.get(f"{url}/api/runs", headers=stolen).status_code == 401
    # A fresh login works again and is a different session.
    assert _login(url, api_key).cookies[COOKIE_NAME] != token


def test_logout_from_a_foreign_origin_is_refused(serve: Any, api_key: str) -> None:
    url = serve()
    cookie = {"Cookie": f"{COOKIE_NAME}={_login(url, api_key).cookies[COOKIE_NAME]}"}
    foreign = httpx.post(f"{url}/api/auth/logout", headers={**cookie, "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert httpx.get(f"{url}/api/auth/me", headers=cookie).status_code == 200


def test_cookie_is_secure_behind_a_trusted_tls_proxy_only(serve: Any, api_key: str) -> None:
    via_tls_proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}

    trusted = serve(FORWARDED_ALLOW_IPS="127.0.0.1")  # the proxy is us, on loopback
    cookie = _login(trusted, api_key, **via_tls_proxy).headers["set-cookie"]
    assert "secure" in [part.strip().lower() for part in cookie.split(";")], cookie
    plain = _login(trusted, api_key).headers["set-cookie"]  # no forwarded proto: plain HTTP
    assert "secure" not in [part.strip().lower() for part in plain.split(";")], plain

    untrusted = serve(FORWARDED_ALLOW_IPS="192.0.2.1")  # some other proxy; our loopback peer is not it
    forged = _login(untrusted, api_key, **via_tls_proxy).headers["set-cookie"]
    assert "secure" not in [part.strip().lower() for part in forged.split(";")], forged


def test_cookie_write_without_origin_is_refused_with_the_reason(serve: Any, api_key: str) -> None:
    url = serve()
    cookie = {"Cookie": f"{COOKIE_NAME}={_login(url, api_key).cookies[COOKIE_NAME]}"}
    body = {"script": SCRIPT}

    bare = httpx.post(f"{url}/api/test", json=body, headers=cookie)
    assert bare.status_code == 403
    assert "Origin or Sec-Fetch-Site" in bare.json()["message"]
    cross = httpx.post(f"{url}/api/test", json=body, headers={**cookie, "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    assert "cross-site" in cross.json()["message"]
    foreign = httpx.post(f"{url}/api/test", json=body, headers={**cookie, "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    for method in ("PUT", "PATCH", "DELETE"):
        assert httpx.request(method, f"{url}/api/tests/x", headers=cookie).status_code == 403, method

    assert httpx.post(f"{url}/api/test", json=body, headers={**cookie, "Origin": url}).status_code == 202
    fetch = {**cookie, "Sec-Fetch-Site": "same-origin"}
    assert httpx.post(f"{url}/api/test", json=body, headers=fetch).status_code == 202
    # Reads with the cookie, and API-key clients (no Origin at all), are not affected.
    assert httpx.get(f"{url}/api/runs", headers=cookie).status_code == 200
    bearer = {"Authorization": f"Bearer {api_key}"}
    assert httpx.post(f"{url}/api/test", json=body, headers=bearer).status_code == 202


def test_metrics_on_their_own_port(serve: Any) -> None:
    port = free_port()
    url = serve(METRICS_PORT=port)
    assert httpx.get(f"{url}/healthz").status_code == 200
    scraped = httpx.get(f"http://127.0.0.1:{port}/metrics")
    assert scraped.status_code == 200
    assert 'supertest_http_requests_total{method="GET",route="/healthz",status="200"}' in scraped.text
    assert httpx.get(f"{url}/metrics").status_code != 200  # not on the API port any more
