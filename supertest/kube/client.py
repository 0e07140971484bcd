"""A small JSON-in/JSON-out Kubernetes client over kubernetes_asyncio's authenticated ApiClient.

The generated typed APIs deserialise every Pod into model objects, which is slow for lists of
hundreds of runs; this wrapper keeps plain dicts and surfaces HTTP errors as `KubeError`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.config.config_exception import ConfigException

from supertest.kube.names import API_VERSION, RunResource

Obj = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
LIST_PAGE = 500


class KubeError(Exception):
    def __init__(self, status: int, reason: str, message: str, body: Obj | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body or {}

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


def run_path(resource: RunResource, namespace: str, name: str | None = None, sub: str | None = None) -> str:
    path = f"/apis/{API_VERSION}/namespaces/{namespace}/{resource.plural}"
    if name:
        path += f"/{name}"
    if sub:
        path += f"/{sub}"
    return path


def core_path(plural: str, namespace: str, name: str | None = None) -> str:
    path = f"/api/v1/namespaces/{namespace}/{plural}"
    return f"{path}/{name}" if name else path


_ENV_LOOKUPS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ws_proxy", "wss_proxy", "netrc")


def _skip_env_lookups(api: Any) -> None:
    """kubernetes_asyncio's aiohttp session trusts the environment: every request then looks for a proxy and reads
    ~/.netrc, in a thread (a thread hop and a file lookup per call, about a tenth of the operator's CPU in a burst).
    With none of those variables set there is nothing to find, so the lookups are turned off; with any of them set
    they stay, and behave as before."""
    if any(name in os.environ or name.upper() in os.environ for name in _ENV_LOOKUPS):
        return
    session = getattr(getattr(api, "rest_client", None), "pool_manager", None)
    if session is not None and hasattr(session, "_trust_env"):
        session._trust_env = False  # aiohttp has no public setter; the session is ours alone


class KubeApi:
    def __init__(self, api: Any, request_timeout: float = 60.0) -> None:
        self._api = api
        self._timeout = request_timeout

    @classmethod
    async def connect(cls, kubeconfig: str | None = None, request_timeout: float = 60.0) -> KubeApi:
        """In-cluster credentials when present, else the kubeconfig (KUBECONFIG or ~/.kube/config)."""
        configuration = k8s_client.Configuration()
        try:
            if kubeconfig is not None:
                raise ConfigException("explicit kubeconfig")
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except ConfigException:
            # KUBECONFIG is read now, not at import time as kubernetes_asyncio's default would.
            path = kubeconfig or os.environ.get("KUBECONFIG")
            await k8s_config.load_kube_config(config_file=path, client_configuration=configuration)
        api = k8s_client.ApiClient(configuration)
        _skip_env_lookups(api)
        return cls(api, request_timeout)

    async def close(self) -> None:
        await self._api.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Obj:
        response = await self._api.call_api(
            path,
            method,
            query_params=list((query or {}).items()),
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=self._timeout,
        )
        try:
            raw = await response.read()
        finally:
            response.release()
        data: Obj = json.loads(raw) if raw else {}
        if not 200 <= response.status <= 299:
            reason, message = str(data.get("reason", response.reason)), str(data.get("message", raw))
            raise KubeError(response.status, reason, message, data)
        return data

    async def get(self, path: str) -> Obj:
        return await self.request("GET", path)

    async def list(self, path: str, label_selector: str | None = None) -> list[Obj]:
        """All items, paged; each item gets the list's kind back (a list strips it)."""
        items: list[Obj] = []
        query: dict[str, str | int] = {"limit": LIST_PAGE}
        if label_selector:
            query["labelSelector"] = label_selector
        while True:
            page = await self.request("GET", path, query=query)
            kind = str(page.get("kind", "")).removesuffix("List")
            for item in page.get("items") or []:
                item.setdefault("kind", kind)
                items.append(item)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            query["continue"] = token

    async def create(self, path: str, body: Obj) -> Obj:
        return await self.request("POST", path, body=body)

    async def merge_patch(self, path: str, body: Obj) -> Obj:
        return await self.request("PATCH", path, body=body, content_type=MERGE_PATCH)

    async def delete(self, path: str, *, grace_seconds: int | None = None, propagation: str | None = None) -> None:
        options: Obj = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if grace_seconds is not None:
            options["gracePeriodSeconds"] = grace_seconds
        if propagation:
            options["propagationPolicy"] = propagation
        try:
            await self.request("DELETE", path, body=options)
        except KubeError as exc:
            if not exc.not_found:
                raise
