"""Shared pieces of the alert tests: receivers, the flip-flop job script and what an alert must carry."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.receivers import HttpReceiver, SmtpReceiver, http_receiver, smtp_receiver

HMAC_SECRET = "whsec-test-0123456789"
PUBLIC_URL = "https://supertest.example.test"
JOB_NAME = "checkout monitor"
TEST_TITLE = "checkout works"
FIRST_ERROR = "Error: the shop is down"
# Fails while the counter file says < 3 (three runs), then passes: the counter is a job variable.
FLIP_SCRIPT = """
const { test, expect } = require('@playwright/test');
const fs = require('fs');
test('checkout works', async () => {
  const file = process.env.FLIP_FILE;
  const n = Number(fs.readFileSync(file, 'utf8') || '0');
  fs.writeFileSync(file, String(n + 1));
  expect(n, 'the shop is down').toBeGreaterThanOrEqual(3);
});
"""
WEBHOOK_TEMPLATE = {
    "summary": "{{job.name}}: {{event}}",
    "link": "{{run.url}}",
    "runId": "{{run.id}}",
    "failed": "{{failedTests}}",
    "error": "{{firstError}}",
    "streak": "{{consecutiveFailures}}",
}


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    with http_receiver() as receiver:
        yield receiver


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpReceiver]:
    with smtp_receiver(tmp_path) as receiver:
        yield receiver


def channel_bodies(http: HttpReceiver, smtp: SmtpReceiver) -> list[dict[str, Any]]:
    """The three channels as API request bodies."""
    return [
        {
            "kind": "webhook",
            "name": "ops-webhook",
            "url": f"{http.url}/hook",
            "bodyTemplate": WEBHOOK_TEMPLATE,
            "hmacSecret": HMAC_SECRET,
        },
        {"kind": "slack", "name": "ops-slack", "webhookUrl": f"{http.url}/slack/T000/B000/XXXX"},
        {
            "kind": "email",
            "name": "ops-email",
            "host": smtp.host,
            "port": smtp.port,
            "starttls": True,
            "username": smtp.username,
            "password": smtp.password,
            "from": "supertest@example.test",
            "to": ["oncall@example.test"],
            "caPem": smtp.ca_pem,
        },
    ]


def assert_alerts(
    http: HttpReceiver, smtp: SmtpReceiver, failing_runs: list[str], recovered_run: str, link_base: str
) -> None:
    """Exactly 2 failure alerts (the 2nd and 3rd failures) and 1 recovery on each channel, each complete."""
    hooks, slack, mails = http.on("/hook"), http.on("/slack/T000/B000/XXXX"), smtp.received()
    assert len(hooks) == 3, [h.body for h in hooks]
    assert len(slack) == 3, [s.body for s in slack]
    assert len(mails) == 3, [m["Subject"] for m in mails]
    alerted = failing_runs[1:]  # threshold 2: the first failure is quiet

    # Webhook: the body template filled in, the HMAC over the raw body verifies, one per idempotency key.
    for hook in hooks:
        expected = "sha256=" + hmac.new(HMAC_SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(hook.headers["X-Supertest-Signature-256"], expected)
    assert len({h.headers["Idempotency-Key"] for h in hooks}) == 3
    bodies = [h.json() for h in hooks]
    failures = [b for b in bodies if b["summary"] == f"{JOB_NAME}: failure"]
    recoveries = [b for b in bodies if b["summary"] == f"{JOB_NAME}: recovery"]
    assert [b["runId"] for b in failures] == alerted
    assert [b["runId"] for b in recoveries] == [recovered_run]
    for body in failures:
        assert body["link"] == f"{link_base}/runs/{body['runId']}"
        assert len(body["failed"]) == 1 and TEST_TITLE in body["failed"][0], body
        assert body["error"] == FIRST_ERROR, body
    assert [b["streak"] for b in failures] == [2, 3]
    assert recoveries[0]["link"] == f"{link_base}/runs/{recovered_run}"

    # Slack: incoming-webhook format (text + a mrkdwn section), same facts.
    texts = [json.loads(s.body)["text"] for s in slack]
    for s in slack:
        doc = json.loads(s.body)
        assert doc["blocks"][0]["type"] == "section" and doc["blocks"][0]["text"]["type"] == "mrkdwn"
    for run_id in alerted:
        text = next(t for t in texts if f"|{run_id}>" in t)
        assert f"{JOB_NAME} failed" in text and f"<{link_base}/runs/{run_id}|" in text
        assert TEST_TITLE in text and FIRST_ERROR in text
    assert any(f"{JOB_NAME} recovered" in t and f"<{link_base}/runs/{recovered_run}|" in t for t in texts)

    # Email over STARTTLS with a login: subject and body carry the same facts.
    assert smtp.logins == [smtp.username] * 3
    subjects = [m["Subject"] for m in mails]
    assert sorted(subjects) == sorted(
        [f"[Supertest] {JOB_NAME} failed (Failed)"] * 2 + [f"[Supertest] {JOB_NAME} recovered (Passed)"]
    )
    for mail in mails:
        text = mail.get_payload(decode=True).decode()
        run_id = next(r for r in [*alerted, recovered_run] if f"/runs/{r}" in text)
        assert f"Run: {link_base}/runs/{run_id}" in text
        if run_id in alerted:
            assert TEST_TITLE in text and f"First error: {FIRST_ERROR}" in text
