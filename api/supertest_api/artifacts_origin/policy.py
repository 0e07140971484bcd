"""Which response headers a run's file gets on the artifacts origin.

The report's own app (report/index.html and the trace viewer under report/) needs its scripts; everything else
(attachments under report/data/, results.json, logs.txt) is inert: sandboxed, never sniffed, and active types
(HTML, SVG, XML) go out as downloads, so a hostile attachment cannot run script even on this origin.
"""

from __future__ import annotations

from supertest.artifacts.layout import artifact_scope

REPORT_APP = "report/"
ATTACHMENTS = "report/data/"
# Types a browser would render as a document that can carry script.
ACTIVE_TYPES = frozenset(
    {"text/html", "image/svg+xml", "application/xhtml+xml", "application/xml", "text/xml", "application/xslt+xml"}
)


def is_report_app(path: str) -> bool:
    return path.startswith(REPORT_APP) and not path.startswith(ATTACHMENTS)


def is_active(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in ACTIVE_TYPES


def security_headers(token: str, run_id: str, path: str, content_type: str) -> dict[str, str]:
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",  # the token is in the URL; do not hand it to whatever a report links to
        # Token-authorised and credential-free: the UI's page (another origin) may read what it was given a URL for.
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if is_report_app(path):
        if path.rsplit("/", 1)[-1] == "sw.bundle.js":
            # The trace viewer's service worker may control this run's files under this token, nothing wider.
            headers["Service-Worker-Allowed"] = artifact_scope(token, run_id)
        return headers
    headers["Content-Security-Policy"] = "sandbox"
    if is_active(content_type):
        name = path.rsplit("/", 1)[-1].replace('"', "")
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return headers
