"""Issue #13 on the real operator (node agent tier): a run's result does not travel through Redis, one huge line
cannot fill it, a black-holed Redis does not slow the runner, and an S3 outage at upload is retried.

Each test gives the operator (and so its pods, in the harness's direct-credentials mode) a Redis of its own, so
stopping or pausing it touches nothing else.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
from datetime import datetime
from typing import Any

import redis

from supertest.kube.names import GROUP, VERSION
from supertest.phases import ExitCode
from tests.e2e.conftest import TERMINAL, Cluster, E2eEnv, OperatorFactory, make_testrun, serve_api
from tests.e2e.scripts import FAILING, PASSING, TINY
from tests.k8s.wait import wait_for
from tests.services.redis_server import RedisServer
from tests.support.tcp_proxy import tcp_proxy

HUGE_LINE = """\
const { test, expect } = require('@playwright/test');
test('prints 10 MB on one line', async () => {
  console.log('x'.repeat(10 * 1024 * 1024));
  expect(1).toBe(1);
});
"""


def _pod_status(cluster: Cluster, pod: str) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(cluster.kubectl("get", "pod", pod, "-o", "json").stdout)["status"]
    return status


def _seconds(pod_status: dict[str, Any]) -> float:
    """How long the runner container ran, from the pod status the node reported."""
    state = pod_status["containerStatuses"][0]["state"]["terminated"]
    started = datetime.fromisoformat(state["startedAt"].replace("Z", "+00:00"))
    finished = datetime.fromisoformat(state["finishedAt"].replace("Z", "+00:00"))
    return (finished - started).total_seconds()


def test_redis_stopped_for_the_whole_run_still_gives_phase_summary_and_report(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory
) -> None:
    own = RedisServer.start()
    try:
        start_operator(redis_url=own.url)
        own.stop()  # from before the run starts to after it ends
        cluster.create_run(make_testrun("no-redis", PASSING))
        run = cluster.wait_phase("no-redis", TERMINAL, timeout=300)
    finally:
        own.stop()
    status = run["status"]
    assert status["phase"] == "Passed", status
    assert status["summary"]["passed"] == 1 and status["summary"]["total"] == 1
    assert status["reportURL"] == "/api/test-results/no-redis/report/index.html"
    keys = e2e.s3.client().list_objects_v2(Bucket=e2e.buckets["test"], Prefix="runs/no-redis/")["Contents"]
    assert "runs/no-redis/report/index.html" in {o["Key"] for o in keys}


def test_a_10_mb_line_ends_with_its_true_phase_frees_its_slot_and_leaves_redis_small(
    cluster: Cluster, start_operator: OperatorFactory
) -> None:
    with RedisServer.start() as own:
        client = redis.Redis.from_url(own.url)
        before = int(client.info("memory")["used_memory"])
        start_operator(redis_url=own.url, running_capacity="1")
        cluster.create_run(make_testrun("huge-line", HUGE_LINE))
        cluster.create_run(make_testrun("after-it", TINY))  # admitted only once the first run's slot is free
        huge = cluster.wait_phase("huge-line", TERMINAL, timeout=300)
        after = cluster.wait_phase("after-it", TERMINAL, timeout=300)
        grown = int(client.info("memory")["used_memory"]) - before
    assert huge["status"]["phase"] == "Passed", huge["status"]
    assert after["status"]["phase"] == "Passed", after["status"]
    assert grown < 1024 * 1024, f"Redis grew by {grown} bytes"


def test_a_black_holed_redis_does_not_slow_the_runner(cluster: Cluster, start_operator: OperatorFactory) -> None:
    with RedisServer.start() as own:
        start_operator(redis_url=own.url, running_capacity="1")
        cluster.create_run(make_testrun("baseline", TINY))
        assert cluster.wait_phase("baseline", TERMINAL, timeout=300)["status"]["phase"] == "Passed"
        baseline = _seconds(_pod_status(cluster, "baseline-a1"))
        assert own.process is not None
        os.kill(own.process.popen.pid, signal.SIGSTOP)
        try:
            cluster.create_run(make_testrun("paused", TINY))
            run = cluster.wait_phase("paused", TERMINAL, timeout=300)
            paused = _seconds(_pod_status(cluster, "paused-a1"))
        finally:
            os.kill(own.process.popen.pid, signal.SIGCONT)
    assert run["status"]["phase"] == "Passed", run["status"]
    # The pod's timestamps have 1 s resolution: 2 s of drain and close bounds, plus that rounding.
    assert paused - baseline <= 3.0, (baseline, paused)


def test_an_s3_outage_during_upload_is_retried_and_ends_with_the_right_phase(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory
) -> None:
    with tcp_proxy(e2e.s3.host, e2e.s3.port) as s3:
        start_operator(s3_endpoint=s3.url)
        s3.down()
        cluster.create_run(make_testrun("s3-outage", FAILING, retries=1))
        first = wait_for(lambda: _terminated(cluster, "s3-outage-a1"), timeout=300, message="the first attempt to end")
        assert first["exitCode"] == ExitCode.UPLOAD_FAILED, first
        s3.up()
        # The first attempt's Error is terminal too, with a retry scheduled: wait for the second attempt's end.
        run = wait_for(lambda: _ended_attempt(cluster, "s3-outage", 2), timeout=300, message="the retry to end")
    status = run["status"]
    # The tests failed both times: an infrastructure retry, then the tests' own verdict (never Passed, never Error).
    assert status["phase"] == "Failed", status
    assert status["attempts"] == 2 and status["summary"]["failed"] == 1
    assert "UploadFailed" in [e.reason for e in cluster.events_for("s3-outage")]


def _ended_attempt(cluster: Cluster, name: str, attempt: int, plural: str = "testruns") -> dict[str, Any] | None:
    run = cluster.run(name, plural=plural)
    status = (run or {}).get("status") or {}
    return run if status.get("attempts") == attempt and status.get("phase") in TERMINAL else None


def _terminated(cluster: Cluster, pod: str) -> dict[str, Any] | None:
    try:
        statuses = _pod_status(cluster, pod).get("containerStatuses") or []
    except (AssertionError, KeyError, ValueError):
        return None
    state: dict[str, Any] | None = (statuses[0].get("state") or {}).get("terminated") if statuses else None
    return state


def test_a_jobrun_and_its_retry_go_through_ingest_with_their_own_tokens(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory
) -> None:
    """The production path (no direct credentials): the pods post to the API, which stores through a cut S3."""
    key = secrets.token_hex(32)
    job = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "JobRun",
        "metadata": {"name": "ingest-job"},
        "spec": {"retries": 1, "tests": [{"name": f"step-{i}", "script": TINY} for i in (1, 2)]},
    }
    with (
        tcp_proxy(e2e.s3.host, e2e.s3.port) as s3,
        serve_api(e2e, cluster, RUN_TOKEN_KEY=key, S3_ENDPOINT=s3.url) as (url, _auth),
    ):
        start_operator(ingest_url=url, run_token_key=key, runner_direct_credentials="false")
        s3.down()
        cluster.create_run(job)
        first = wait_for(lambda: _terminated(cluster, "ingest-job-a1"), timeout=300, message="the first attempt")
        assert first["exitCode"] == ExitCode.UPLOAD_FAILED, first
        s3.up()
        run = wait_for(
            lambda: _ended_attempt(cluster, "ingest-job", 2, "jobruns"), timeout=300, message="the retry to end"
        )
        pod = cluster.kubectl("get", "pod", "ingest-job-a2", "-o", "json").stdout
        tokens = json.loads(cluster.kubectl("get", "secrets", "-o", "json").stdout)["items"]
    status = run["status"]
    assert status["phase"] == "Passed", status
    assert status["summary"]["passed"] == 2 and status["reportURL"].endswith("/ingest-job/report/index.html")
    keys = e2e.s3.client().list_objects_v2(Bucket=e2e.buckets["job"], Prefix="runs/ingest-job/")["Contents"]
    assert "runs/ingest-job/report/index.html" in {o["Key"] for o in keys}
    for name in ("REDIS_URL", "S3_ENDPOINT", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL"):
        assert f'"{name}"' not in pod, name
    assert e2e.s3.secret_key not in pod
    owned = {
        t["metadata"]["name"]: t["metadata"]["ownerReferences"][0]["name"]
        for t in tokens
        if t["metadata"].get("ownerReferences")
    }
    assert owned == {"ingest-job-a1-token": "ingest-job", "ingest-job-a2-token": "ingest-job"}
