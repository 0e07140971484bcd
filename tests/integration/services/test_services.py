"""The real backing services work end to end: no mocks, each test talks to a live server."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import boto3
import pytest
import redis
import sqlalchemy as sa
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.services.procs import ManagedProcess, pid_running, reap_stale, wait_for
from tests.services.redis_server import RedisServer
from tests.services.s3 import S3Server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REPO_ROOT = Path(__file__).resolve().parents[3]


# --- Postgres ---------------------------------------------------------------------------------------------


def test_postgres_query_through_sqlalchemy(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("SHOW server_version")).scalar_one()
            assert int(version.split(".")[0]) >= 15
            assert conn.execute(sa.text("SELECT current_user")).scalar_one() == "supertest"
    finally:
        engine.dispose()


def test_fresh_postgres_databases_are_isolated(fresh_postgres_db: Callable[[], str]) -> None:
    first, second = sa.create_engine(fresh_postgres_db()), sa.create_engine(fresh_postgres_db())
    try:
        with first.begin() as conn:
            conn.execute(sa.text("CREATE TABLE runs (id text PRIMARY KEY, phase text NOT NULL)"))
            conn.execute(sa.text("INSERT INTO runs VALUES ('r1', 'Queued')"))
        with first.connect() as conn:
            assert conn.execute(sa.text("SELECT phase FROM runs")).scalar_one() == "Queued"
        with second.connect() as conn:
            tables = conn.execute(sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
            assert tables.scalar_one() == 0
    finally:
        first.dispose()
        second.dispose()


def test_postgres_checks_passwords(postgres_url: str) -> None:
    wrong = sa.make_url(postgres_url).set(password="wrong")
    engine = sa.create_engine(wrong)
    try:
        with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
            engine.connect()
    finally:
        engine.dispose()


# --- Redis ------------------------------------------------------------------------------------------------


def test_redis_stream_round_trip(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    stream = f"supertest:run:{uuid.uuid4()}:events"
    try:
        phases = ["Queued", "Running", "Passed"]
        ids = [
            str(client.xadd(stream, {"type": "status", "data": json.dumps({"phase": phase})}, maxlen=1000))
            for phase in phases
        ]
        entries = _xrange(client, stream)
        assert [entry_id for entry_id, _ in entries] == ids
        assert [json.loads(fields["data"])["phase"] for _, fields in entries] == phases
        # Resume after a known id, as a reconnecting SSE client with Last-Event-ID does.
        assert [entry_id for entry_id, _ in _xrange(client, stream, start=f"({ids[0]}")] == ids[1:]
    finally:
        client.delete(stream)
        client.close()


def _xrange(client: redis.Redis, stream: str, start: str = "-") -> list[tuple[str, dict[str, str]]]:
    # redis-py's stubs type replies for both decode modes; this client decodes to str.
    return cast("list[tuple[str, dict[str, str]]]", client.xrange(stream, min=start))


# --- S3 ---------------------------------------------------------------------------------------------------


def test_s3_put_get_range_list_and_batch_delete(s3_server: S3Server) -> None:
    s3 = s3_server.client()
    bucket = s3_server.create_bucket(f"reports-{uuid.uuid4().hex[:8]}")
    body = bytes(range(256)) * 4
    keys = [f"runs/r1/report/{name}" for name in ("index.html", "data/a.json", "data/b.json")]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/octet-stream")
    s3.put_object(Bucket=bucket, Key="runs/r2/logs.txt", Body=b"other run")

    ranged = s3.get_object(Bucket=bucket, Key=keys[0], Range="bytes=100-199")
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert ranged["ContentRange"] == f"bytes 100-199/{len(body)}"
    assert ranged["Body"].read() == body[100:200]
    # Content type lives in the server's metadata store (xattrs or sidecar): prove it round-trips.
    assert ranged["ContentType"] == "application/octet-stream"

    listed = s3.list_objects_v2(Bucket=bucket, Prefix="runs/r1/report/data/")
    assert sorted(obj["Key"] for obj in listed["Contents"]) == sorted(keys[1:])

    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == sorted(keys)
    assert not deleted.get("Errors")
    remaining = s3.list_objects_v2(Bucket=bucket, Prefix="runs/")
    assert [obj["Key"] for obj in remaining["Contents"]] == ["runs/r2/logs.txt"]


def test_s3_rejects_wrong_credentials(s3_server: S3Server) -> None:
    s3_server.create_bucket(bucket := f"private-{uuid.uuid4().hex[:8]}")
    intruder = _client_with_secret(s3_server, "not-the-secret")
    with pytest.raises(ClientError) as excinfo:
        intruder.list_objects_v2(Bucket=bucket)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def _client_with_secret(server: S3Server, secret: str) -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=secret,
        region_name=server.region,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


# --- lifecycle --------------------------------------------------------------------------------------------


def test_stop_leaves_no_process_or_directory() -> None:
    server = RedisServer.start()
    assert server.process is not None
    pid, workdir, pidfile = server.process.popen.pid, server.workdir, server.process.pidfile
    assert pidfile.exists()
    server.stop()
    assert not pid_running(pid)
    assert not workdir.exists()
    assert not pidfile.exists()


def test_servers_of_a_killed_session_are_reaped() -> None:
    # A session SIGKILLed right after starting a server: no atexit, no teardown.
    script = (
        "import os, signal\n"
        "from tests.services.redis_server import RedisServer\n"
        "s = RedisServer.start()\n"
        "print(s.process.popen.pid, s.workdir, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    pid_text, workdir = done.stdout.split()
    pid = int(pid_text)
    assert pid_running(pid), "the orphaned redis-server should still be running"

    reap_stale()
    wait_for(lambda: not pid_running(pid), what="orphaned redis-server to die", timeout=10)
    assert not Path(workdir).exists()


def test_stop_kills_a_stubborn_server_and_its_detached_children(tmp_path: Path) -> None:
    # Ignores SIGTERM and, like Postgres, puts its child in a session of its own (out of our killpg's reach).
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    log = tmp_path / "stubborn.log"
    process = ManagedProcess.spawn("stubborn", [sys.executable, "-c", script], log_path=log, cleanup_dir=tmp_path)
    wait_for(lambda: log.read_text().strip() != "", what="stubborn server to report its child", timeout=10)
    child = int(log.read_text())

    process.stop(timeout=0.5)

    assert not pid_running(process.popen.pid)
    wait_for(lambda: not pid_running(child), what="detached child to die", timeout=5)
