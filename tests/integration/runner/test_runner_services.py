"""The pod's configuration: events on the Redis stream, artifacts in an S3 bucket."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from supertest.events import EventType, RunEvent, stream_key
from supertest.phases import ExitCode, Phase
from tests.integration.runner.conftest import _SCRUBBED
from tests.integration.runner.test_runner import PASSING
from tests.services.s3 import S3Server

pytestmark = pytest.mark.browser


def test_events_on_redis_and_report_in_s3(
    tmp_path: Path, playwright_env: dict[str, str], redis_url: str, s3_server: S3Server
) -> None:
    run_id = f"svc-{os.getpid()}"
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "heading.spec.js").write_text(PASSING)
    bucket = f"runner-{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(playwright_env)
    env.update(s3_server.env())
    env.update(
        SUPERTEST_RUN_ID=run_id,
        SUPERTEST_SCRIPTS_DIR=str(scripts),
        REDIS_URL=redis_url,
        S3_TEST_BUCKET_NAME=bucket,  # the runner creates it if missing
        PW_VIDEO="off",
        PW_TRACE="on",
        PW_SCREENSHOT="off",
    )
    env.pop("SUPERTEST_EVENTS_STDOUT", None)
    done = subprocess.run(
        [sys.executable, "-m", "supertest_runner"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == ExitCode.PASSED, done.stdout + done.stderr
    # Without the stdout event protocol the output is readable, for `kubectl logs`.
    assert "1 passed" in done.stdout
    assert "@@supertest-event" not in done.stdout

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    entries = client.xrange(stream_key(run_id))
    events = [RunEvent.from_json(fields["event"]) for _, fields in entries]
    statuses = [e for e in events if e.type is EventType.STATUS]
    assert [s.phase for s in statuses] == [Phase.RUNNING, Phase.PASSED]
    assert any(e.type is EventType.LOG and "1 passed" in (e.line or "") for e in events)
    [result] = [e for e in events if e.type is EventType.RESULT]
    assert result.summary is not None
    assert (result.summary.total, result.summary.passed) == (1, 1)
    assert 0 < client.ttl(stream_key(run_id)) <= 86_400

    s3 = s3_server.client()
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{run_id}/")
    keys = {obj["Key"] for obj in listed.get("Contents", [])}
    prefix = f"runs/{run_id}/"
    assert {prefix + "report/index.html", prefix + "results.json", prefix + "logs.txt"} <= keys
    assert any(k.startswith(prefix + "report/data/") and k.endswith(".zip") for k in keys), keys
    head = s3.head_object(Bucket=bucket, Key=prefix + "report/index.html")
    assert head["ContentType"].startswith("text/html")
