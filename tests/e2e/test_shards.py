"""Sharded runs on the node-agent cluster: shard pods under RUNNING_CAPACITY, one merge pod, one merged report."""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory, make_testrun, serve_api
from tests.e2e.scripts import TINY, sleeping
from tests.k8s.wait import wait_for


def make_jobrun(name: str, tests: int, **spec: Any) -> dict[str, Any]:
    scripts = [{"name": f"t{i:02d}", "script": TINY.replace("'tiny'", f"'tiny {i}'")} for i in range(tests)]
    return {
        "apiVersion": "supertest.dev/v1alpha1",
        "kind": "JobRun",
        "metadata": {"name": name},
        "spec": {"tests": scripts, **spec},
    }


def test_a_jobrun_in_four_shards_passes_with_one_merged_report(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory
) -> None:
    start_operator(RUNNING_CAPACITY="4")
    name = "sharded"
    cluster.apply(make_jobrun(name, 8, shards=4, timeoutSeconds=300))
    run = cluster.wait_phase(name, {"Passed", "Failed", "Error", "TimedOut"}, timeout=400, plural="jobruns")
    status = run["status"]
    assert status["phase"] == "Passed", cluster.describe(name, "jobruns")
    assert status["shardsDone"] == "4/4"
    assert [line["phase"] for line in status["shards"]] == ["Passed"] * 4
    assert sorted(f for line in status["shards"] for f in line["files"]) == [
        f"{i + 1:02d}-t{i:02d}.spec.js" for i in range(8)
    ]
    assert status["podName"] == f"{name}-merge-a1"
    assert status["summary"]["total"] == 8 and status["summary"]["passed"] == 8
    assert status["reportURL"] == f"/api/test-results/{name}/report/index.html"

    s3 = e2e.s3.client()
    bucket = e2e.buckets["job"]
    merged = json.loads(s3.get_object(Bucket=bucket, Key=f"runs/{name}/results.json")["Body"].read())
    assert len(merged["suites"]) == 8  # every file of every shard
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{name}/")["Contents"]}
    assert f"runs/{name}/report/index.html" in keys
    assert {f"runs/{name}/shards/{i}/blob.zip" for i in range(4)} <= keys

    table = cluster.kubectl("get", "jr", name).stdout.splitlines()
    header = table[0].split()
    assert "SHARDS" in header
    assert table[1].split()[header.index("SHARDS")] == "4/4"


def test_sharded_and_plain_runs_mixed_never_exceed_the_capacity(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory
) -> None:
    start_operator(RUNNING_CAPACITY="2")
    peak = {"pods": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["pods"] = max(peak["pods"], len(cluster.live_pods()))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        cluster.apply(make_jobrun("mixed-a", 3, shards=3, timeoutSeconds=300))
        cluster.apply(make_testrun("mixed-b", TINY, timeoutSeconds=300))
        cluster.apply(make_jobrun("mixed-c", 2, shards=2, timeoutSeconds=300))
        for name, plural in (("mixed-a", "jobruns"), ("mixed-b", "testruns"), ("mixed-c", "jobruns")):
            run = cluster.wait_phase(name, {"Passed", "Failed", "Error", "TimedOut"}, timeout=500, plural=plural)
            assert run["status"]["phase"] == "Passed", cluster.describe(name, plural)
    finally:
        stop.set()
        sampler.join(timeout=5)
    assert 0 < peak["pods"] <= 2, peak
    wait_for(lambda: not cluster.live_pods(), timeout=60, message="every pod to finish")


def test_a_shard_pod_deleted_mid_run_is_retried_alone(cluster: Cluster, start_operator: OperatorFactory) -> None:
    start_operator(RUNNING_CAPACITY="2")
    name = "lose-one"
    manifest = make_jobrun(name, 2, shards=2, retries=1, timeoutSeconds=300)
    for test in manifest["spec"]["tests"]:
        test["script"] = sleeping(6)
    cluster.apply(manifest)

    def shard_running() -> bool:
        lines = ((cluster.run(name, "jobruns") or {}).get("status") or {}).get("shards") or []
        return bool(lines) and lines[0].get("phase") == "Running"

    wait_for(shard_running, timeout=180, message="shard 1 running")
    cluster.kubectl("delete", "pod", f"{name}-s0-a1", "--wait=false")
    run = cluster.wait_phase(name, {"Passed", "Failed", "Error", "TimedOut"}, timeout=400, plural="jobruns")
    status = run["status"]
    assert status["phase"] == "Passed", cluster.describe(name, "jobruns")
    lines = status["shards"]
    # The lost shard ran again (a new pod, attempt 2); the other shard ran once.
    assert [(line["attempts"], line["podName"]) for line in lines] == [(2, f"{name}-s0-a2"), (1, f"{name}-s1-a1")]
    assert status["summary"]["total"] == 2 and status["summary"]["passed"] == 2


def test_cancelling_a_three_shard_run_deletes_every_shard_pod(
    cluster: Cluster, start_operator: OperatorFactory
) -> None:
    start_operator(RUNNING_CAPACITY="3")
    name = "cancel-sharded"
    manifest = make_jobrun(name, 3, shards=3, timeoutSeconds=300)
    for test in manifest["spec"]["tests"]:
        test["script"] = sleeping(60)  # far longer than the test: only the cancel can end them
    cluster.apply(manifest)

    def all_running() -> bool:
        lines = ((cluster.run(name, "jobruns") or {}).get("status") or {}).get("shards") or []
        return len(lines) == 3 and all(line.get("phase") == "Running" for line in lines)

    wait_for(all_running, timeout=180, message="all three shards running")
    assert len(cluster.live_pods()) == 3
    cluster.kubectl("patch", "jobrun", name, "--type=merge", "-p", json.dumps({"spec": {"cancel": True}}))
    run = cluster.wait_phase(name, {"Cancelled", "Passed", "Failed", "Error", "TimedOut"}, timeout=60, plural="jobruns")
    status = run["status"]
    assert status["phase"] == "Cancelled", cluster.describe(name, "jobruns")
    assert [line["phase"] for line in status["shards"]] == ["Cancelled"] * 3
    assert "podName" not in status  # never reached the merge
    # Every shard pod goes (the runner stops Playwright within the grace period), none is left to hold a slot.
    wait_for(lambda: not cluster.pods(), timeout=90, message="every shard pod deleted")


def test_a_sharded_run_in_ingest_mode_merges_through_the_api(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory
) -> None:
    """The chart's default: the pods hold no store credentials. The shards PUT their blobs to the API's ingest
    endpoints and the merge pod GETs them back with a token of its own (one Secret per pod, minted as it starts)."""
    key = secrets.token_hex(32)
    name = "sharded-ingest"
    with serve_api(e2e, cluster, RUN_TOKEN_KEY=key) as (url, _auth):
        start_operator(RUNNING_CAPACITY="2", ingest_url=url, run_token_key=key, runner_direct_credentials="false")
        cluster.apply(make_jobrun(name, 4, shards=2, timeoutSeconds=300))
        run = cluster.wait_phase(name, {"Passed", "Failed", "Error", "TimedOut"}, timeout=400, plural="jobruns")
        merge_pod = cluster.kubectl("get", "pod", f"{name}-merge-a1", "-o", "json").stdout
        secrets_json = json.loads(cluster.kubectl("get", "secrets", "-o", "json").stdout)["items"]
    status = run["status"]
    assert status["phase"] == "Passed", cluster.describe(name, "jobruns")
    assert status["shardsDone"] == "2/2"
    assert status["summary"]["total"] == 4 and status["summary"]["passed"] == 4
    s3 = e2e.s3.client()
    merged = json.loads(s3.get_object(Bucket=e2e.buckets["job"], Key=f"runs/{name}/results.json")["Body"].read())
    assert len(merged["suites"]) == 4  # every file of both shards
    for var in ("REDIS_URL", "S3_ENDPOINT", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL"):
        assert f'"{var}"' not in merge_pod, var
    assert e2e.s3.secret_key not in merge_pod
    owned = {
        s["metadata"]["name"]
        for s in secrets_json
        if (s["metadata"].get("ownerReferences") or [{}])[0].get("name") == name
    }
    assert owned == {f"{name}-s0-a1-token", f"{name}-s1-a1-token", f"{name}-merge-a1-token"}
