"""TTL after finish, orphan sweep, and retention of Redis streams, Postgres rows and S3 reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import redis
import sqlalchemy as sa
from kubernetes import client as k8s
from supertest_operator.builders import INLINE_SCRIPT_BYTES

from supertest.db.models import RunRecord
from supertest.events import stream_key
from tests.e2e.conftest import TERMINAL, Cluster, E2eEnv, OperatorFactory, make_testrun
from tests.e2e.scripts import FAILING, TINY
from tests.k8s.wait import wait_for


def test_ttl_removes_run_pod_and_configmap(cluster: Cluster, start_operator: OperatorFactory) -> None:
    # Defaults per outcome: Passed runs go after 3 s, failures are kept (an hour) for debugging.
    start_operator(ttl_passed_seconds="3", ttl_failed_seconds="3600", orphan_interval_seconds="2")
    # Scripts over INLINE_SCRIPT_BYTES get a ConfigMap (smaller ones travel in the pod): two runs have one.
    large_failing = FAILING + "\n// " + "x" * INLINE_SCRIPT_BYTES
    cluster.create_run(make_testrun("short-lived", TINY))
    cluster.create_run(make_testrun("kept-failure", large_failing))
    cluster.create_run(make_testrun("own-ttl", large_failing, ttlSecondsAfterFinished=1))
    for name in ("short-lived", "kept-failure", "own-ttl"):
        cluster.wait_phase(name, TERMINAL, timeout=180)

    def gone(name: str) -> bool:
        return cluster.run(name) is None and not [
            o for o in cluster.pods() + cluster.configmaps() if o.metadata.labels["supertest.dev/run"] == name
        ]

    wait_for(
        lambda: gone("short-lived") and gone("own-ttl"),
        timeout=60,
        message="expired runs and their pods/ConfigMaps to disappear",
    )
    assert cluster.phase("kept-failure") == "Failed"
    assert [p.metadata.name for p in cluster.pods()] == ["kept-failure-a1"]
    assert [c.metadata.name for c in cluster.configmaps()] == ["kept-failure-scripts"]

    # An orphan: a labelled pod whose owner does not exist.
    orphan = k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="orphan", labels={"supertest.dev/run": "nobody", "supertest.dev/kind": "test"}),
        spec=k8s.V1PodSpec(
            restart_policy="Never", containers=[k8s.V1Container(name="c", image="x", command=["sleep", "60"])]
        ),
    )
    cluster.core.create_namespaced_pod(cluster.ns, orphan)
    wait_for(
        lambda: "orphan" not in [p.metadata.name for p in cluster.pods()],
        timeout=60,
        message="the orphan pod to be removed",
    )


def test_retention_in_batches(e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory) -> None:
    engine = sa.create_engine(e2e.database_url)
    r = redis.Redis.from_url(e2e.redis_url)
    s3 = e2e.s3.client()
    old = datetime.now(UTC) - timedelta(days=40)
    recent = datetime.now(UTC) - timedelta(days=1)
    prefix = cluster.ns[-6:]
    old_ids = [f"old-{prefix}-{i:02d}" for i in range(12)]
    new_ids = [f"new-{prefix}-{i}" for i in range(2)]
    with sa.orm.Session(engine) as session, session.begin():
        for run_id, when in [(i, old) for i in old_ids] + [(i, recent) for i in new_ids]:
            session.add(
                RunRecord(
                    id=run_id,
                    kind="test",
                    phase="Passed",
                    created_at=when,
                    queued_at=when,
                    started_at=when,
                    completed_at=when,
                )
            )
    for run_id in old_ids + new_ids:
        s3.put_object(Bucket=e2e.buckets["test"], Key=f"runs/{run_id}/report/index.html", Body=b"<html>")
        s3.put_object(Bucket=e2e.buckets["test"], Key=f"runs/{run_id}/results.json", Body=b"{}")
    streams = [f"{prefix}-stream-{i}" for i in range(5)]
    for run_id in streams:  # written without MAXLEN/EXPIRE, e.g. by an older runner
        for n in range(1500):
            r.xadd(stream_key(run_id), {"event": json.dumps({"n": n})})

    operator = start_operator(
        retention_days="30", retention_batch_size="5", retention_interval_seconds="3600", event_stream_maxlen="100"
    )
    try:

        def rows_left() -> set[str]:
            with sa.orm.Session(engine) as session:
                return set(session.scalars(sa.select(RunRecord.id).where(RunRecord.id.in_(old_ids + new_ids))))

        wait_for(lambda: rows_left() == set(new_ids), timeout=60, message="old rows deleted")

        def keys(run_id: str) -> list[str]:
            listed = s3.list_objects_v2(Bucket=e2e.buckets["test"], Prefix=f"runs/{run_id}/")
            return [o["Key"] for o in listed.get("Contents", [])]

        wait_for(lambda: not any(keys(i) for i in old_ids), timeout=60, message="old reports deleted")
        assert all(len(keys(i)) == 2 for i in new_ids)
        for run_id in streams:
            key = stream_key(run_id)
            assert 0 < r.ttl(key) <= 86_400
            assert r.xlen(key) < 1500  # trimmed with MAXLEN ~ 100 (approximate: whole nodes only)

        def reports() -> list[dict[str, int]]:  # the pass logs its counts once the S3 sweep is done too
            log = operator.log_path.read_text()
            return [json.loads(line) for line in log.splitlines() if '"retention_done"' in line]

        done = wait_for(reports, timeout=60, message="the retention pass's report")
        assert done[-1]["row_batches"] >= 3 and done[-1]["rows_deleted"] >= 12, done
        assert done[-1]["streams_expired"] >= 5
    finally:
        engine.dispose()
        r.close()
