from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse
from sqlalchemy.orm import Session, sessionmaker
from supertest_api.status import service as status_service

from supertest.db import runs as run_repo
from supertest.db.engine import session_scope
from supertest.events import Summary, log_event, result_event, status_event
from supertest.phases import Phase
from tests.k8s.wait import wait_for
from tests.unit.api.conftest import LiveServer, insert_run

SCRIPT = "import { test } from '@playwright/test';\ntest('ok', async () => {});\n"


def read_all(
    live: LiveServer, path: str, headers: dict[str, str] | None = None, **params: str
) -> list[ServerSentEvent]:
    """Every event until the server closes the stream (the read timeout turns a hang into a failure)."""
    with (
        httpx.Client(base_url=live.url, timeout=httpx.Timeout(10.0)) as client,
        connect_sse(client, "GET", path, headers={**live.auth, **(headers or {})}, params=params) as source,
    ):
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [e for e in source.iter_sse() if e.event != "" or e.data]


def data(event: ServerSentEvent) -> dict[str, Any]:
    return dict(json.loads(event.data))


def finish(live: LiveServer, run_id: str) -> None:
    live.launcher.publish(status_event(run_id, Phase.RUNNING))
    live.launcher.publish(log_event(run_id, "1 passed"))
    summary = Summary(total=1, passed=1)
    live.launcher.publish(result_event(run_id, summary, f"/api/test-results/{run_id}/report/index.html", 0))
    live.launcher.publish(status_event(run_id, Phase.PASSED))


def submit(live: LiveServer) -> str:
    res = httpx.post(f"{live.url}/api/test", json={"script": SCRIPT}, headers=live.auth)
    assert res.status_code == 202
    return str(res.json()["runId"])


def test_live_stream_until_terminal(live: LiveServer) -> None:
    run_id = submit(live)
    events: list[ServerSentEvent] = []
    with (
        httpx.Client(base_url=live.url, timeout=httpx.Timeout(10.0)) as client,
        connect_sse(client, "GET", f"/api/test-status/sse/{run_id}", headers=live.auth) as source,
    ):
        stream = source.iter_sse()
        first = next(stream)
        assert first.event == "status"
        assert data(first)["phase"] == "Queued"
        assert first.id
        events.append(first)
        finish(live, run_id)  # published while we are connected
        events.extend(stream)
    assert [e.event for e in events] == ["status", "status", "log", "result", "status"]
    assert [data(e).get("phase") for e in events if e.event == "status"] == ["Queued", "Running", "Passed"]
    assert data(events[2])["line"] == "1 passed"
    assert data(events[3])["summary"]["passed"] == 1
    assert data(events[3])["runId"] == run_id
    ids = [e.id for e in events]
    assert len(set(ids)) == 5
    assert all(ids)


def test_resume_with_last_event_id(live: LiveServer) -> None:
    run_id = submit(live)
    finish(live, run_id)
    everything = read_all(live, f"/api/test-status/sse/{run_id}")
    assert len(everything) == 5
    after_second = everything[1].id
    resumed = read_all(live, f"/api/test-status/sse/{run_id}", headers={"Last-Event-ID": after_second})
    assert [e.id for e in resumed] == [e.id for e in everything[2:]]
    by_query = read_all(live, f"/api/test-status/sse/{run_id}", lastEventId=everything[3].id)
    assert [e.id for e in by_query] == [everything[4].id]


def test_empty_bus_falls_back_to_the_row(live: LiveServer, db: sessionmaker[Session]) -> None:
    run_id = insert_run(db, Phase.FAILED)  # e.g. an API restart lost the in-process bus
    events = read_all(live, f"/api/test-status/sse/{run_id}")
    assert len(events) == 1
    assert events[0].event == "status"
    assert data(events[0])["phase"] == "Failed"


def test_row_phase_first_then_live_events(live: LiveServer, db: sessionmaker[Session]) -> None:
    run_id = insert_run(db, Phase.RUNNING)
    with (
        httpx.Client(base_url=live.url, timeout=httpx.Timeout(10.0)) as client,
        connect_sse(client, "GET", f"/api/test-status/sse/{run_id}", headers=live.auth) as source,
    ):
        stream = source.iter_sse()
        assert data(next(stream))["phase"] == "Running"
        live.launcher.publish(status_event(run_id, Phase.TIMED_OUT))
        rest = list(stream)
    assert [data(e)["phase"] for e in rest] == ["TimedOut"]


def test_stream_ends_when_the_row_turns_terminal_without_an_event(
    live: LiveServer, db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status_service, "RECHECK_SECONDS", 0.1)
    monkeypatch.setattr(status_service, "TERMINAL_GRACE_SECONDS", 0.1)
    run_id = submit(live)
    with (
        httpx.Client(base_url=live.url, timeout=httpx.Timeout(10.0)) as client,
        connect_sse(client, "GET", f"/api/test-status/sse/{run_id}", headers=live.auth) as source,
    ):
        stream = source.iter_sse()
        assert data(next(stream))["phase"] == "Queued"
        with session_scope(db) as session:
            run_repo.apply_phase(session, run_id, run_repo.PhaseUpdate(Phase.ERROR, "runner vanished"))
        rest = list(stream)
    assert [data(e)["phase"] for e in rest] == ["Error"]


def test_job_twin(live: LiveServer) -> None:
    res = httpx.post(f"{live.url}/api/jobs/run", json={"tests": [{"name": "a", "script": SCRIPT}]}, headers=live.auth)
    run_id = res.json()["runId"]
    live.launcher.publish(status_event(run_id, Phase.CANCELLED))
    events = read_all(live, f"/api/job-status/sse/{run_id}")
    assert [data(e)["phase"] for e in events] == ["Queued", "Cancelled"]


def test_sse_errors(live: LiveServer) -> None:
    assert httpx.get(f"{live.url}/api/test-status/sse/tr-000000000000", headers=live.auth).status_code == 404
    run_id = submit(live)
    bad = httpx.get(f"{live.url}/api/test-status/sse/{run_id}", headers={**live.auth, "Last-Event-ID": "x; DROP"})
    assert bad.status_code == 400
    assert "Last-Event-ID" in bad.json()["message"]
    assert httpx.get(f"{live.url}/api/test-status/sse/{run_id}").status_code == 401


def test_viewers_share_one_subscription_released_when_they_disconnect(live: LiveServer) -> None:
    run_id = submit(live)
    bus = live.launcher.bus
    streams = []  # kept: a dropped iterator closes its response
    with contextlib.ExitStack() as stack:
        for _ in range(3):
            client = stack.enter_context(httpx.Client(base_url=live.url, timeout=httpx.Timeout(10.0)))
            source = stack.enter_context(
                connect_sse(client, "GET", f"/api/test-status/sse/{run_id}", headers=live.auth)
            )
            streams.append(source.iter_sse())
            assert data(next(streams[-1]))["phase"] == "Queued"
        assert bus.followers(run_id) == 1  # three viewers, one subscription
    # The clients hung up mid-run: the hub and its subscription go with the last of them.
    wait_for(lambda: bus.followers(run_id) == 0, timeout=10, interval=0.01, message="subscription released")


def test_a_client_that_stops_reading_is_dropped_without_holding_the_others_back(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a real socket: the hub's writes to a client that reads nothing wait for room (uvicorn's flow control),
    its frames pile up, and past the limit it is dropped; a reading client meanwhile gets every line."""
    from supertest_api.status import hub

    monkeypatch.setattr(hub, "VIEWER_QUEUE_FRAMES", 8)
    run_id = submit(live)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the server's buffer fills fast
    stalled.connect(("127.0.0.1", live.port))
    key = live.auth["Authorization"]
    stalled.sendall(f"GET /api/test-status/sse/{run_id} HTTP/1.1\r\nHost: x\r\nAuthorization: {key}\r\n\r\n".encode())
    head = b""
    while b"event: status" not in head:  # its first event, then it reads no more
        head += stalled.recv(4096)
    big = "x" * 16_000
    lines = 200
    with (
        httpx.Client(base_url=live.url, timeout=httpx.Timeout(10.0)) as client,
        connect_sse(client, "GET", f"/api/test-status/sse/{run_id}", headers=live.auth) as source,
    ):
        events = source.iter_sse()
        assert data(next(events))["phase"] == "Queued"
        for i in range(lines):
            live.launcher.publish(status_event(run_id, Phase.RUNNING, f"{i} {big}"))  # a frame each
        live.launcher.publish(status_event(run_id, Phase.PASSED))
        seen = [data(e) for e in events if e.event == "status"]
    assert len(seen) == lines + 1 and seen[-1]["phase"] == "Passed"  # the reading client got everything
    # The stalled client's stream ends with the drop notice once it reads again.
    stalled.settimeout(10.0)
    rest = b""
    while b": dropped" not in rest:
        chunk = stalled.recv(65536)
        assert chunk, "the stream ended without the drop notice"
        rest += chunk
    assert rest.count(b"event: status") < lines  # it was dropped, not sent everything
    stalled.close()
