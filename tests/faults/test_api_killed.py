"""The API SIGKILLed between its database insert and its resource create, mid-burst; then restarted.

The kill comes from a test-only hook (SUPERTEST_FAULT_KILL_AFTER_ROW_INSERT, see ApiSettings): the process kills
itself in the one place where a crash leaves a Queued row without a TestRun. The operator's orphan-row repair
closes that row as Error ("never created; nothing ran") once it is older than ORPHAN_ROW_GRACE_SECONDS, instead
of leaving it Queued for ever in the history; the restarted API then reports that. The burst around it is
unaffected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from kubernetes import client as k8s

from supertest.db import apikeys
from supertest.db.engine import make_engine, make_session_factory, session_scope
from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory, apply_rbac
from tests.e2e.operator_proc import free_port
from tests.e2e.scripts import TINY
from tests.faults.harness import CAPACITY, Burst
from tests.k8s.wait import wait_for

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def api_process(
    e2e: E2eEnv, cluster: Cluster, log: Path, **extra: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`supertest api` as a real process (a SIGKILL must not take the test with it)."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")},
        **e2e.s3_env(),
        "RUN_BACKEND": "kubernetes",
        "DATABASE_URL": e2e.database_url,
        "REDIS_URL": e2e.redis_url,
        "KUBECONFIG": str(e2e.cp.serviceaccount_kubeconfig(cluster.ns, "supertest-api")),
        "SUPERTEST_NAMESPACE": cluster.ns,
        "SESSION_SECRET": "faults-session-secret-0123456789",
        "QUEUED_CAPACITY": "200",
        **extra,
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "supertest.cli.main", "api", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the API exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            return httpx.get(url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, timeout=60, interval=0.2, message="the API process to serve")
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def row_of(database_url: str, run_id: str) -> tuple[str, str | None]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("select phase, message from runs where id = :id"), {"id": run_id}).one()
    finally:
        engine.dispose()
    return row.phase, row.message


@pytest.mark.timeout(400)
def test_api_killed_between_insert_and_create(
    e2e: E2eEnv, cluster: Cluster, k8s_api: k8s.ApiClient, start_operator: OperatorFactory
) -> None:
    apply_rbac(cluster, "api.yaml")
    engine = make_engine(e2e.database_url)
    with session_scope(make_session_factory(engine)) as session:
        _, key = apikeys.create_key(session, "faults")
    engine.dispose()
    headers = {"Authorization": f"Bearer {key}"}
    log = e2e.tmp / f"api-{cluster.ns}.log"

    start_operator(running_capacity=str(CAPACITY), queued_capacity="200", orphan_row_grace_seconds="5")
    burst = Burst(cluster, k8s_api, "API SIGKILLed after its insert").submit()
    burst.wait_started(finished=1)
    with api_process(e2e, cluster, log, SUPERTEST_FAULT_KILL_AFTER_ROW_INSERT="true") as (url, proc):
        with pytest.raises(httpx.TransportError):  # the process died mid-request
            httpx.post(url + "/api/test", json={"script": TINY}, headers=headers, timeout=30)
        assert proc.wait(timeout=10) == -9, "the API did not die by SIGKILL"

    engine = make_engine(e2e.database_url)
    try:
        with engine.connect() as conn:
            ids = [r.id for r in conn.execute(sa.text("select id from runs where namespace = :ns"), {"ns": cluster.ns})]
    finally:
        engine.dispose()
    orphans = [i for i in ids if i not in burst.expected]
    assert len(orphans) == 1, orphans
    orphan = orphans[0]
    assert cluster.run(orphan) is None, "the resource was created after all"

    def closed() -> tuple[str, str | None] | None:
        row = row_of(e2e.database_url, orphan)
        return row if row[0] != "Queued" else None

    repaired = wait_for(
        closed,
        timeout=60,
        interval=0.5,
        message=lambda: f"the orphan row repaired: {row_of(e2e.database_url, orphan)}",
    )
    assert repaired[0] == "Error" and "never created" in str(repaired[1]), repaired
    with api_process(e2e, cluster, log) as (url, _):
        body = httpx.get(f"{url}/api/runs/{orphan}", headers=headers, timeout=30).json()
        assert body["phase"] == "Error", body

    burst.wait_all_terminal(timeout=240)
    outcome = burst.check(e2e.database_url, e2e.s3, e2e.buckets["test"])
    assert outcome.ok, outcome.explain()
