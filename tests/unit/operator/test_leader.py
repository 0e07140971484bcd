"""The loops' Lease: one holder at a time, takeover only after expiry, conflicts lose."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from supertest_operator.leader import LeaderLease, claimable

from supertest.kube.client import KubeError
from supertest.kube.models import format_time


class FakeLeases:
    """Just enough of the apiserver for Lease objects: resourceVersion preconditions on PUT."""

    def __init__(self) -> None:
        self.obj: dict[str, Any] | None = None
        self.rv = 0

    async def get(self, path: str) -> dict[str, Any]:
        if self.obj is None:
            raise KubeError(404, "NotFound", "no lease")
        return copy.deepcopy(self.obj)

    async def request(self, method: str, path: str, *, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        if method == "POST" and self.obj is not None:
            raise KubeError(409, "AlreadyExists", "exists")
        if method == "PUT" and body["metadata"]["resourceVersion"] != str(self.rv):
            raise KubeError(409, "Conflict", "stale")
        self.rv += 1
        self.obj = copy.deepcopy(body)
        self.obj["metadata"]["resourceVersion"] = str(self.rv)
        return copy.deepcopy(self.obj)


async def test_one_leader_and_takeover_after_expiry() -> None:
    api = FakeLeases()
    a = LeaderLease(api, "ns", "supertest-operator-x", duration=15)  # type: ignore[arg-type]
    b = LeaderLease(api, "ns", "supertest-operator-x", duration=15)  # type: ignore[arg-type]
    b.identity = "other"
    assert await a.renew() and a.is_leader
    assert not await b.renew() and not b.is_leader
    assert await a.renew()  # renewing our own lease
    assert api.obj is not None
    api.obj["spec"]["renewTime"] = format_time(datetime.now(UTC) - timedelta(seconds=60))  # a died
    assert await b.renew() and b.is_leader
    assert api.obj["spec"]["holderIdentity"] == "other" and api.obj["spec"]["leaseTransitions"] == 1
    assert LeaderLease.standalone().is_leader


def test_claimable() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    held = {"holderIdentity": "a", "renewTime": "2026-01-01T00:00:00Z", "leaseDurationSeconds": 15}
    assert claimable(held, "a", now)
    assert not claimable(held, "b", now)
    assert claimable(held, "b", now + timedelta(seconds=16))
    assert claimable({}, "b", now)
