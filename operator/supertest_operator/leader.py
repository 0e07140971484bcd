"""Leader election for the operator's own loops (admission, deadlines, TTL, retention, orphans).

kopf's peering freezes kopf's handlers on standby replicas, but not tasks we start ourselves. With
PEERING_NAME set, those loops only run while this replica holds a coordination.k8s.io Lease, so two
replicas never admit at once. Standalone (the default) means always the leader.
"""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from supertest.kube.client import KubeApi, KubeError
from supertest.kube.models import format_time, parse_time

log = structlog.get_logger("supertest.operator.leader")


def lease_path(namespace: str, name: str | None = None) -> str:
    path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
    return f"{path}/{name}" if name else path


def claimable(spec: dict[str, Any], identity: str, now: datetime) -> bool:
    """Ours already, never held, or expired (pure)."""
    holder = spec.get("holderIdentity")
    renewed = parse_time(spec.get("renewTime"))
    duration = int(spec.get("leaseDurationSeconds") or 0)
    return holder in (None, "", identity) or renewed is None or renewed + timedelta(seconds=duration) < now


class LeaderLease:
    def __init__(self, kube: KubeApi | None, namespace: str, name: str, duration: int = 15) -> None:
        self._kube = kube
        self._ns = namespace
        self._name = name
        self.duration = duration
        self.identity = f"{socket.gethostname()}-{os.getpid()}"
        self._valid_until: datetime | None = None

    @classmethod
    def standalone(cls) -> LeaderLease:
        return cls(None, "", "")

    @property
    def is_leader(self) -> bool:
        """Standalone: always. Otherwise while the lease is ours with a safety margin left."""
        if self._kube is None:
            return True
        margin = timedelta(seconds=self.duration / 3)
        return self._valid_until is not None and datetime.now(UTC) + margin < self._valid_until

    async def renew(self) -> bool:
        assert self._kube is not None
        now = datetime.now(UTC)
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.duration,
            "renewTime": format_time(now),
        }
        try:
            lease = await self._kube.get(lease_path(self._ns, self._name))
        except KubeError as exc:
            if not exc.not_found:
                raise
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self._name, "namespace": self._ns},
                "spec": {**spec, "acquireTime": format_time(now), "leaseTransitions": 0},
            }
            return await self._write("POST", lease_path(self._ns), body, now)
        current = lease.get("spec") or {}
        if not claimable(current, self.identity, now):
            self._valid_until = None
            return False
        if current.get("holderIdentity") != self.identity:
            spec["acquireTime"] = format_time(now)
            spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0) + 1
            log.info("leadership_acquired", identity=self.identity, lease=self._name)
        lease["spec"] = {**current, **spec}  # PUT with the resourceVersion read: a racing replica gets 409
        return await self._write("PUT", lease_path(self._ns, self._name), lease, now)

    async def _write(self, method: str, path: str, body: dict[str, Any], now: datetime) -> bool:
        assert self._kube is not None
        try:
            await self._kube.request(method, path, body=body)
        except KubeError as exc:
            if exc.conflict:
                self._valid_until = None
                return False
            raise
        self._valid_until = now + timedelta(seconds=self.duration)
        return True

    async def keep(self) -> None:
        """Renew every third of the lease duration, forever."""
        while True:
            try:
                await self.renew()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("lease_renew_failed", error=str(exc))
            await asyncio.sleep(self.duration / 3)
