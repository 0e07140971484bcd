"""The ingest endpoints a run pod uses instead of Redis and S3 credentials: its own run's token, nothing else."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from supertest_api.app import create_app
from supertest_runner.ingest import IngestArtifactStore, IngestTarget, IngestTransport
from supertest_runner.publish import DRAIN_SECONDS, QueuedSink
from supertest_runner.upload import download_blobs, upload_run, upload_shard

from supertest.artifacts import ArtifactNotFound
from supertest.bus.memory import MemoryEventBus
from supertest.events import log_event, status_event
from supertest.phases import Phase
from supertest.run_token import RunClaims, mint
from supertest.settings import RunnerSettings
from tests.support.api_thread import serving
from tests.unit.api.conftest import FakeLauncher, insert_run, make_settings

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


def test_a_token_is_revoked_when_its_run_ends(
    ingest: tuple[TestClient, FakeLauncher], db: sessionmaker[Session]
) -> None:
    client, launcher = ingest
    ended = datetime.now(UTC).replace(microsecond=0)
    run_id = insert_run(db, Phase.PASSED, namespace="team-a", completed_at=ended)
    url = f"/ingest/runs/team-a/{run_id}/events"
    batch = {"events": [log_event(run_id, "late").model_dump(mode="json", by_alias=True)]}

    def issued(at: datetime) -> dict[str, str]:
        claims = RunClaims("team-a", run_id, "test", int(time.time()) + 600, int(at.timestamp()))
        return {"Authorization": f"Bearer {mint(KEY.encode(), claims)}"}

    before = client.post(url, json=batch, headers=issued(ended - timedelta(minutes=5)))
    assert before.status_code == 401
    assert "revoked" in before.json()["message"]
    assert (
        client.get(
            f"/ingest/runs/team-a/{run_id}/artifacts/shards/1/report.zip", headers=issued(ended - timedelta(minutes=5))
        ).status_code
        == 401
    )
    # A token issued after the recorded end (a retried attempt, or a new run that reuses the name) still works.
    assert client.post(url, json=batch, headers=issued(ended + timedelta(seconds=5))).status_code == 202
    assert _events(launcher, run_id) == ["late"]


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


@pytest.mark.parametrize("failure", ["upload_failed", "client_error", "endpoint_down"])
def test_an_object_store_failure_is_a_503_the_runner_retries(
    ingest: tuple[TestClient, FakeLauncher], monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """Whatever boto3 raises (upload_file wraps the store's answer in S3UploadFailedError), never a 500."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import ClientError, EndpointConnectionError

    from supertest.artifacts import LocalArtifactStore

    errors: dict[str, Exception] = {
        "upload_failed": S3UploadFailedError("Failed to upload: An error occurred (NoSuchBucket)"),
        "client_error": ClientError({"Error": {"Code": "SlowDown", "Message": "busy"}}, "PutObject"),
        "endpoint_down": EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    }

    def broken(self: LocalArtifactStore, key: str, path: Path, content_type: str | None = None) -> None:
        raise errors[failure]

    monkeypatch.setattr(LocalArtifactStore, "put_file", broken)
    client, _ = ingest
    put = client.put("/ingest/runs/team-a/tr-mine/artifacts/report/index.html", content=b"x", headers=token("tr-mine"))
    assert put.status_code == 503, put.text
    assert "artifact store" in put.text


def _runner_settings(url: str, name: str, token_header: dict[str, str], tmp: Path) -> RunnerSettings:
    return RunnerSettings(
        SUPERTEST_RUN_ID=name,
        SUPERTEST_SCRIPTS_DIR=str(tmp),
        SUPERTEST_INGEST_URL=url,
        SUPERTEST_RUN_TOKEN=token_header["Authorization"].removeprefix("Bearer "),
        SUPERTEST_RUN_NAMESPACE="team-a",
    )


def test_the_runner_publishes_and_uploads_through_ingest(home: Path, bus: MemoryEventBus, tmp_path: Path) -> None:
    settings = make_settings(home, RUN_TOKEN_KEY=KEY)
    launcher = FakeLauncher(settings, bus)
    report = tmp_path / "report"
    (report / "data").mkdir(parents=True)
    (report / "index.html").write_text("<html>report</html>")
    (report / "data" / "trace.zip").write_bytes(b"\x00" * 3_000_000)  # over the API's 2 MiB JSON cap
    (tmp_path / "results.json").write_text("{}")
    (tmp_path / "logs.txt").write_text("log\n")
    with serving(create_app(settings, launcher, bus=bus)) as url:
        runner = _runner_settings(url, "tr-mine", token("tr-mine"), tmp_path)
        uploaded = upload_run(
            IngestArtifactStore(IngestTarget(runner)),
            "tr-mine",
            report,
            tmp_path / "results.json",
            tmp_path / "logs.txt",
        )

        async def publish() -> int:
            sink = QueuedSink(IngestTransport(IngestTarget(runner)), queue_size=100)
            for i in range(30):
                await sink.publish(log_event("tr-mine", f"line {i}"))
            await sink.close()
            return sink.dropped

        assert asyncio.run(publish()) == 0
        assert _events(launcher, "tr-mine") == [f"line {i}" for i in range(30)]
    assert uploaded.files == 4 and uploaded.report
    stored = home / "artifacts" / "test" / "runs" / "tr-mine"
    assert (stored / "report" / "data" / "trace.zip").stat().st_size == 3_000_000
    assert (stored / "logs.txt").read_text() == "log\n"


def test_a_black_holed_ingest_endpoint_costs_the_runner_about_the_drain(tmp_path: Path) -> None:
    with socket.socket() as hole:  # accepts connections (backlog) and never answers
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        runner = _runner_settings(url, "tr-mine", token("tr-mine"), tmp_path)

        async def publish() -> tuple[float, int]:
            sink = QueuedSink(IngestTransport(IngestTarget(runner)), queue_size=100)
            started = time.monotonic()
            for i in range(300):
                await sink.publish(log_event("tr-mine", f"line {i}"))
            await sink.close()
            return time.monotonic() - started, sink.dropped

        elapsed, dropped = asyncio.run(publish())
    assert elapsed < DRAIN_SECONDS + 1.0
    assert dropped == 300


def test_a_run_reads_back_only_its_own_shard_outputs(ingest: tuple[TestClient, FakeLauncher], home: Path) -> None:
    """The merge pod's input: its run's shards/ outputs, nothing else of its run, nothing of another run."""
    client, _ = ingest
    stored = home / "artifacts" / "test" / "runs"
    blob = bytes(range(256)) * 4096  # 1 MiB, streamed back unchanged
    (stored / "tr-mine" / "shards" / "0").mkdir(parents=True)
    (stored / "tr-mine" / "shards" / "0" / "blob.zip").write_bytes(blob)
    (stored / "tr-mine" / "logs.txt").write_text("the run's log")
    (stored / "tr-other" / "shards" / "0").mkdir(parents=True)
    (stored / "tr-other" / "shards" / "0" / "blob.zip").write_bytes(b"theirs")
    base = "/ingest/runs/team-a/tr-mine/artifacts/"

    got = client.get(base + "shards/0/blob.zip", headers=token("tr-mine"))
    assert got.status_code == 200 and got.content == blob
    assert client.get(base + "shards/1/blob.zip", headers=token("tr-mine")).status_code == 404
    # Its own run, outside shards/: refused, whether the file exists or not.
    assert client.get(base + "logs.txt", headers=token("tr-mine")).status_code == 403
    assert client.get(base + "report/index.html", headers=token("tr-mine")).status_code == 403
    # Another run: refused with its own token, and without any.
    other = "/ingest/runs/team-a/tr-other/artifacts/shards/0/blob.zip"
    assert client.get(other, headers=token("tr-mine")).status_code == 403
    assert client.get(other).status_code == 401
    assert client.get(other, headers=token("tr-other", ttl=-1)).status_code == 401
    # Traversal out of shards/ and out of the run, plain and encoded: refused.
    for path in (
        "shards/../logs.txt",
        "shards/../../tr-other/shards/0/blob.zip",
        "shards/%2e%2e/%2e%2e/tr-other/shards/0/blob.zip",
        "shards/%252e%252e/%252e%252e/tr-other/shards/0/blob.zip",
        "shards/0\\blob.zip",
    ):
        answer = client.get(base + path, headers=token("tr-mine"))
        assert answer.status_code in (400, 403, 404), (path, answer.status_code)
        assert answer.content != b"theirs" and answer.content != b"the run's log"
    # Hidden like the writes: no run-token route in the public document.
    assert not [p for p in client.get("/openapi.json").json()["paths"] if p.startswith("/ingest")]


def test_the_runner_downloads_shard_blobs_through_ingest(home: Path, bus: MemoryEventBus, tmp_path: Path) -> None:
    """download_blobs over IngestArtifactStore: the shards' blobs, streamed to files; a missing one is named."""
    settings = make_settings(home, RUN_TOKEN_KEY=KEY)
    blob_dir = tmp_path / "blob"
    blob_dir.mkdir()
    with serving(create_app(settings, FakeLauncher(settings, bus), bus=bus)) as url:
        store = IngestArtifactStore(IngestTarget(_runner_settings(url, "tr-mine", token("tr-mine"), tmp_path)))
        for index in (0, 1):
            (blob_dir / "blob.zip").write_bytes(b"blob %d" % index * 100_000)
            upload_shard(store, "tr-mine", index, blob_dir, tmp_path / "none.json", tmp_path / "none.txt")
        paths = download_blobs(store, "tr-mine", 2, tmp_path / "merge")
        assert [p.read_bytes() for p in paths] == [b"blob 0" * 100_000, b"blob 1" * 100_000]
        with pytest.raises(ArtifactNotFound, match=r"shard\(s\) 2"):
            download_blobs(store, "tr-mine", 3, tmp_path / "merge2")
        # Its own report is not readable back: a 403, raised as the writes raise theirs.
        with pytest.raises(httpx.HTTPStatusError) as refused:
            store.read_bytes("runs/tr-mine/report/index.html")
        assert refused.value.response.status_code == 403
