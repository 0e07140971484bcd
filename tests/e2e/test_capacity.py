"""Capacity: the queued-capacity webhook denies the 11th waiting run, also under concurrent creations.

The burst under an operator SIGKILL (capacity, FIFO with priority, no lost run, no duplicate pod) lives in the
fault tier: tests/faults/test_operator_killed.py.
"""

from __future__ import annotations

import concurrent.futures

from kubernetes.client.rest import ApiException

from supertest.admission import QueueFull
from tests.e2e.conftest import Cluster, OperatorFactory, make_testrun
from tests.e2e.scripts import TINY, sleeping


def test_queue_full_is_denied_by_the_webhook(cluster: Cluster, start_operator: OperatorFactory) -> None:
    start_operator(running_capacity="1", queued_capacity="10")
    cluster.create_run(make_testrun("blocker", sleeping(120), timeoutSeconds=300))
    cluster.wait_phase("blocker", "Running", timeout=120)
    for i in range(8):
        cluster.apply(make_testrun(f"waiting-{i}", TINY))

    # Concurrent creations race for the last two places: exactly two win.
    def create(i: int) -> bool:
        try:
            cluster.create_run(make_testrun(f"racer-{i}", TINY))
        except ApiException as exc:
            assert exc.status == 429, exc
            assert "queue is full" in str(exc.body)
            return False
        return True

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        created = sum(pool.map(create, range(5)))
    assert created == 2

    denied = cluster.apply(make_testrun("eleventh", TINY), check=False)
    assert denied.returncode != 0
    assert str(QueueFull(10, 10)) in denied.stderr, denied.stderr
    assert cluster.run("eleventh") is None
