"""The ingest endpoints a run pod uses instead of Redis and S3 credentials: its own run's token, nothing else."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from supertest_api.app import create_app

from supertest.bus.memory import MemoryEventBus
from supertest.events import log_event, status_event
from supertest.phases import Phase
from supertest.run_token import RunClaims, mint
from tests.unit.api.conftest import FakeLauncher, make_settings

KEY = "k" * 40


def token(name: str, namespace: str = "team-a", ttl: int = 600, key: str = KEY) -> dict[str, str]:
    claims = RunClaims(namespace, name, "test", int(time.time()) + ttl)
    return {"Authorization": f"Bearer {mint(key.encode(), claims)}"}


@pytest.fixture
def ingest(home: Path, bus: MemoryEventBus) -> Iterator[tuple[TestClient, FakeLauncher]]:
    settings = make_settings(home, RUN_TOKEN_KEY=KEY)
    launcher = FakeLauncher(settings, bus)
    with TestClient(create_app(settings, launcher, bus=bus), base_url="http://testserver") as client:
        yield client, launcher


def _events(launcher: FakeLauncher, run: str) -> list[str]:
    return [s.event.line or s.event.message or "" for s in launcher.call(launcher.bus.history(run))]


def test_a_run_appends_to_its_own_stream_and_nobody_else_does(ingest: tuple[TestClient, FakeLauncher]) -> None:
    client, launcher = ingest
    launcher.publish(status_event("tr-other", Phase.PASSED, "the other run's verdict"))
    url = "/ingest/runs/team-a/tr-mine/events"
    own = [log_event("tr-mine", "hello").model_dump(mode="json", by_alias=True)]
    assert client.post(url, json={"events": own}, headers=token("tr-mine")).status_code == 202
    assert _events(launcher, "tr-mine") == ["hello"]

    forged = [status_event("tr-other", Phase.FAILED, "forged").model_dump(mode="json", by_alias=True)]
    # Its own token, an event naming the other run: refused.
    assert client.post(url, json={"events": forged}, headers=token("tr-mine")).status_code == 403
    # Its own token on the other run's path: refused.
    other_url = "/ingest/runs/team-a/tr-other/events"
    assert client.post(other_url, json={"events": forged}, headers=token("tr-mine")).status_code == 403
    # No token, a token signed with another key, an expired token: refused.
    assert client.post(other_url, json={"events": forged}).status_code == 401
    assert client.post(other_url, json={"events": forged}, headers=token("tr-other", key="z" * 40)).status_code == 401
    assert client.post(other_url, json={"events": forged}, headers=token("tr-other", ttl=-1)).status_code == 401
    assert _events(launcher, "tr-other") == ["the other run's verdict"]


def test_unknown_fields_and_huge_lines(ingest: tuple[TestClient, FakeLauncher]) -> None:
    client, launcher = ingest
    url = "/ingest/runs/team-a/tr-mine/events"
    event = log_event("tr-mine", "x" * (1024 * 1024)).model_dump(mode="json", by_alias=True)
    assert client.post(url, json={"events": [event], "extra": 1}, headers=token("tr-mine")).status_code == 422
    assert client.post(url, json={"events": [event]}, headers=token("tr-mine")).status_code == 202
    (line,) = _events(launcher, "tr-mine")
    assert len(line.encode()) < 17 * 1024 and "line truncated" in line


def test_artifacts_land_under_the_runs_own_prefix_only(ingest: tuple[TestClient, FakeLauncher], home: Path) -> None:
    client, _ = ingest
    base = "/ingest/runs/team-a/tr-mine/artifacts/"
    put = client.put(base + "report/index.html", content=b"<html>ok</html>", headers=token("tr-mine"))
    assert put.status_code == 201
    stored = home / "artifacts" / "test" / "runs" / "tr-mine" / "report" / "index.html"
    assert stored.read_bytes() == b"<html>ok</html>"
    for path in ("../tr-other/report/index.html", "report/../../tr-other/x", "%2e%2e/tr-other/x", "a\\b"):
        assert client.put(base + path, content=b"evil", headers=token("tr-mine")).status_code in (400, 404)
    other = "/ingest/runs/team-a/tr-other/artifacts/report/index.html"
    assert client.put(other, content=b"evil", headers=token("tr-mine")).status_code == 403
    assert client.put(other, content=b"evil").status_code == 401
    assert not (home / "artifacts" / "test" / "runs" / "tr-other").exists()
