"""Kubernetes mode: the TestJob of each scheduled job, written with the launcher's Kubernetes client.

The jobs service is synchronous (it runs in a worker thread with the request's DB session); these calls hop
back to the event loop that owns the client, so one client serves the launcher and the jobs. Kubernetes code
is imported only here, lazily: local mode never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.from_thread

if TYPE_CHECKING:
    from supertest.kube.client import KubeApi

# Optimistic-concurrency retries of a replace that lost a race with the operator's status or an annotation.
REPLACE_ATTEMPTS = 3


class TestJobWriteFailed(Exception):
    """The cluster refused or could not be reached (`unreachable`), or the name is another TestJob's (`taken`)."""

    __test__ = False  # not a pytest class

    def __init__(self, message: str, *, unreachable: bool = False, taken: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unreachable = unreachable
        self.taken = taken


class TestJobCluster:
    """Creates, replaces and deletes TestJobs in one namespace (the API's)."""

    __test__ = False  # not a pytest class

    def __init__(self, kube: KubeApi, namespace: str) -> None:
        self._kube = kube
        self.namespace = namespace

    def apply(self, manifest: dict[str, Any]) -> None:
        """Create the TestJob, or replace its spec, labels and our annotations (others' annotations stay)."""
        self._call(self._apply, manifest)

    def delete(self, namespace: str, name: str) -> None:
        """Delete the TestJob; one already gone is fine."""
        self._call(self._delete, namespace, name)

    def _call(self, fn: Any, *args: Any) -> None:
        from aiohttp import ClientError

        from supertest.kube.client import KubeError

        try:
            anyio.from_thread.run(fn, *args)
        except KubeError as exc:
            raise TestJobWriteFailed(f"the Kubernetes API answered {exc}") from exc
        except (ClientError, OSError, TimeoutError) as exc:
            raise TestJobWriteFailed(f"the Kubernetes API is unreachable: {exc}", unreachable=True) from exc

    async def _apply(self, manifest: dict[str, Any]) -> None:
        from supertest.kube.client import KubeError
        from supertest.kube.names import ANNOTATION_JOB_ID
        from supertest.kube.testjobs import collection_path, item_path

        meta = manifest["metadata"]
        path = collection_path(self.namespace)
        try:
            await self._kube.create(path, manifest)
            return
        except KubeError as exc:
            if not exc.conflict:  # 409 AlreadyExists: replace it below
                raise
        item = item_path(self.namespace, meta["name"])
        job_id = meta["annotations"][ANNOTATION_JOB_ID]
        for attempt in range(REPLACE_ATTEMPTS):
            current = await self._kube.get(item)
            current_meta = current.get("metadata") or {}
            owner = (current_meta.get("annotations") or {}).get(ANNOTATION_JOB_ID)
            if owner != job_id:
                raise TestJobWriteFailed(
                    f"TestJob {self.namespace}/{meta['name']} already exists and is not this job's "
                    f"(its {ANNOTATION_JOB_ID} is {owner!r})",
                    taken=True,
                )
            body = {
                **current,
                "metadata": {
                    **current_meta,
                    "labels": {**(current_meta.get("labels") or {}), **meta.get("labels", {})},
                    "annotations": {**(current_meta.get("annotations") or {}), **meta.get("annotations", {})},
                },
                "spec": manifest["spec"],
            }
            try:
                await self._kube.request("PUT", item, body=body)
                return
            except KubeError as exc:
                if not exc.conflict or attempt == REPLACE_ATTEMPTS - 1:
                    raise

    async def _delete(self, namespace: str, name: str) -> None:
        from supertest.kube.testjobs import item_path

        await self._kube.delete(item_path(namespace, name))
