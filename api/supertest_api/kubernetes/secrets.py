"""Kubernetes mode: secret variables are keys of k8s Secrets `supertest-vars-<scope>` in the API's namespace.

Written with the launcher's client from the (threaded) request, as kubernetes/testjobs.py does for TestJobs. A run pod
reads them through `valueFrom.secretKeyRef`; the value is in no custom resource, no row and no pod spec.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import anyio.from_thread

if TYPE_CHECKING:
    from supertest.kube.client import KubeApi


class SecretWriteFailed(Exception):
    pass


class SecretsCluster:
    def __init__(self, kube: KubeApi, namespace: str) -> None:
        self._kube = kube
        self.namespace = namespace

    def put(self, secret: str, key: str, value: str) -> None:
        self._call(self._put, secret, key, value)

    def remove(self, secret: str, key: str) -> None:
        self._call(self._remove, secret, key)

    def _call(self, fn: Any, *args: Any) -> None:
        from aiohttp import ClientError

        from supertest.kube.client import KubeError

        try:
            anyio.from_thread.run(fn, *args)
        except KubeError as exc:
            raise SecretWriteFailed(f"the Kubernetes API answered {exc}") from exc
        except (ClientError, OSError, TimeoutError) as exc:
            raise SecretWriteFailed(f"the Kubernetes API is unreachable: {exc}") from exc

    async def _put(self, secret: str, key: str, value: str) -> None:
        from supertest.kube.client import KubeError, core_path

        encoded = base64.b64encode(value.encode()).decode()
        try:
            await self._kube.merge_patch(core_path("secrets", self.namespace, secret), {"data": {key: encoded}})
        except KubeError as exc:
            if not exc.not_found:
                raise
            manifest = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": secret,
                    "labels": {"app.kubernetes.io/managed-by": "supertest-api", "supertest.dev/variables": "true"},
                },
                "type": "Opaque",
                "data": {key: encoded},
            }
            await self._kube.create(core_path("secrets", self.namespace), manifest)

    async def _remove(self, secret: str, key: str) -> None:
        from supertest.kube.client import KubeError, core_path

        try:
            await self._kube.merge_patch(core_path("secrets", self.namespace, secret), {"data": {key: None}})
        except KubeError as exc:
            if not exc.not_found:
                raise
