"""Our Kubernetes client (supertest.kube.client) against a real apiserver: watches never starve requests."""

from __future__ import annotations

import asyncio

from supertest.kube.client import REQUEST_CONNECTIONS, KubeApi, core_path
from tests.k8s.controlplane import ControlPlane


async def _watches_and_requests(kubeconfig: str, namespace: str) -> None:
    kube = await KubeApi.connect(kubeconfig, request_timeout=20)
    path = core_path("configmaps", namespace)
    try:
        version = str((await kube.request("GET", path))["metadata"]["resourceVersion"])
        streams = REQUEST_CONNECTIONS + 4  # more watches than the requests' pool has connections
        seen = [asyncio.Event() for _ in range(streams)]

        async def follow(index: int) -> None:
            async for event in kube.watch(path, version, 60):
                if event.get("type") == "ADDED":
                    seen[index].set()

        watching = [asyncio.create_task(follow(i)) for i in range(streams)]
        try:
            # Each watch is open once it sees the ConfigMap; the create itself needs a connection of the pool.
            await kube.request("POST", path, body={"metadata": {"name": "probe"}, "data": {"k": "v"}})
            await asyncio.wait_for(asyncio.gather(*(s.wait() for s in seen)), timeout=30)
            # Every watch holds its connection now, and a request still gets one.
            probe = await kube.request("GET", core_path("configmaps", namespace, "probe"))
            assert probe["data"] == {"k": "v"}
            assert not any(task.done() for task in watching), [t.exception() for t in watching if t.done()]
        finally:
            for task in watching:
                task.cancel()
            await asyncio.gather(*watching, return_exceptions=True)
    finally:
        await kube.close()


def test_more_watches_than_request_connections_do_not_stall_requests(
    control_plane: ControlPlane, k8s_namespace: str
) -> None:
    asyncio.run(_watches_and_requests(str(control_plane.kubeconfig_path), k8s_namespace))
