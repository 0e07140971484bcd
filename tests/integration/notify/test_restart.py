"""Done-when 2: the API is SIGKILLed right after a failing run's terminal transition, before its sender ran;
the alert was committed with the transition (the outbox), so the next API process sends it, exactly once.

Two real `supertest dev` processes on one Postgres. The first runs with NOTIFY_POLL_SECONDS=600, so its sender
is idle after its start-up pass and the kill reliably comes between the commit and any send (a kill in the middle
of a send is the at-least-once case the Idempotency-Key covers; the README says so). Everything goes through
the HTTP API: channels, the rule, the job variable, the job runs, and the run page's delivery attempts.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest

from supertest.db import migrate
from tests.integration.notify.conftest import (
    FLIP_SCRIPT,
    JOB_NAME,
    PUBLIC_URL,
    TEST_TITLE,
    assert_alerts,
    channel_bodies,
)
from tests.support.local_server import LocalServer, local_server, wait_for
from tests.support.receivers import HttpReceiver, SmtpReceiver

pytestmark = pytest.mark.browser


def outbox_rows(client: httpx.Client, run_id: str) -> list[dict]:
    response = client.get(f"/api/runs/{run_id}/notifications")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def run_job(server: LocalServer, client: httpx.Client, job_id: str) -> dict:
    response = client.post(f"/api/jobs/{job_id}/run")
    assert response.status_code == 202, response.text
    return server.wait_terminal(client, response.json()["runId"], timeout=180)


@pytest.fixture
def db_url(fresh_postgres_db) -> str:
    url = fresh_postgres_db()
    migrate.upgrade(url)
    return url


def test_sigkill_after_a_failing_transition_loses_no_alert_and_sends_none_twice(
    db_url: str, tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    home = tmp_path / "home"
    counter = tmp_path / "counter"
    counter.write_text("0")
    env = {"DATABASE_URL": db_url, "PUBLIC_URL": PUBLIC_URL, "NOTIFY_POLL_SECONDS": "600"}
    runs: list[dict] = []
    with local_server(home, env) as first, first.client() as client:
        test = client.post("/api/tests", json={"title": TEST_TITLE, "script": FLIP_SCRIPT}).json()
        job = client.post("/api/jobs", json={"name": JOB_NAME, "testIds": [test["id"]]})
        assert job.status_code == 201, job.text
        job_id = job.json()["id"]
        variable = client.post("/api/variables", json={"name": "FLIP_FILE", "value": str(counter), "jobId": job_id})
        assert variable.status_code == 201, variable.text
        for body in channel_bodies(http, smtp):
            created = client.post("/api/notifications/channels", json=body)
            assert created.status_code == 201, created.text
            assert "hmacSecret" not in created.json()["config"] and "webhookUrl" not in created.json()["config"]
            rule = {"channelId": created.json()["id"], "jobId": job_id, "failureThreshold": 2, "maxAlertsPerStreak": 2}
            assert client.post("/api/notifications/rules", json=rule).status_code == 201

        runs.append(run_job(first, client, job_id))
        runs.append(run_job(first, client, job_id))  # the 2nd consecutive failure: its alerts are due
        # Right after the terminal transition: the alerts are in the outbox, nothing was sent; kill -9.
        pending = outbox_rows(client, runs[1]["runId"])
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(30)
    assert [r["phase"] for r in runs] == ["Failed", "Failed"]
    assert sorted(r["status"] for r in pending) == ["pending"] * 3
    assert http.requests == [] and smtp.received() == []

    env["NOTIFY_POLL_SECONDS"] = "0.2"
    with local_server(home, env) as second, second.client() as client:
        wait_for(lambda: len(http.on("/hook")) == 1 and len(smtp.received()) == 1, 60, what="the alerts of run 2")
        runs.append(run_job(second, client, job_id))
        runs.append(run_job(second, client, job_id))
        assert [r["phase"] for r in runs] == ["Failed", "Failed", "Failed", "Passed"]

        def settled() -> bool:
            rows = [row for r in runs for row in outbox_rows(client, r["runId"])]
            return len(rows) == 9 and all(row["status"] == "sent" for row in rows)

        wait_for(settled, 60, what="all 9 alerts to be sent")
        # The run page's deliveries: one successful attempt each, with the receiver's status code.
        for row in outbox_rows(client, runs[1]["runId"]):
            assert [a["statusCode"] for a in row["attempts"]] in ([200], [250]), row
            assert row["idempotencyKey"] == f"{runs[1]['runId']}:{row['channelId']}"
        assert outbox_rows(client, runs[0]["runId"]) == []  # the first failure is below the threshold

    assert_alerts(http, smtp, [r["runId"] for r in runs[:3]], runs[3]["runId"], PUBLIC_URL)
