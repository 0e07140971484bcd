"""A small JSON-in/JSON-out Kubernetes client: plain dicts in and out, HTTP errors as `KubeError`.

The generated typed APIs deserialise every Pod into model objects, which is slow for lists of hundreds of runs. The
transport is aiohttp with the credentials read here (in-cluster service account, or a kubeconfig with a token, a
client certificate or a password); only a kubeconfig user with an `exec` or `auth-provider` plugin goes through
kubernetes_asyncio's ApiClient, imported then and only then: its generated models cost a long-running process
about 60 MiB of memory for nothing.
"""

from __future__ import annotations

import base64
import builtins
import os
import ssl
import tempfile
import time
from asyncio import timeout as asyncio_timeout
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import orjson
import yaml

from supertest.kube.names import API_VERSION, RunResource

Obj = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
LIST_PAGE = 500
# Requests in flight at once, each on its own TLS connection with its buffers. bench/burst.py, 5,000 queued, capacity
# 100, same day: 64 gave 35.9 admissions/s and a peak RSS of 163 MiB; 24 gave 36.8 and 154 MiB (the apiserver, not
# the pool, bounds the rate); 16 gave 35.8 and 153 MiB but held the runs in flight to 58 of the 100 allowed.
REQUEST_CONNECTIONS = 24


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


SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_REREAD_SECONDS = 60.0  # projected service-account tokens rotate; the kubelet rewrites the file


class _Transport(Protocol):
    async def send(
        self, method: str, path: str, query: list[tuple[str, str | int]], headers: dict[str, str], body: Any
    ) -> tuple[int, str, bytes]: ...
    def stream(
        self, path: str, query: list[tuple[str, str | int]], headers: dict[str, str], read_timeout: float
    ) -> AsyncIterator[bytes]: ...
    async def close(self) -> None: ...


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A watch response's lines (one event each), whatever their length: aiohttp's own line reader refuses lines
    longer than its buffer, and a run's body (its script) can be longer."""
    pending = b""
    async for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield line
    if pending.strip():
        yield pending


def _stream_error(status: int, reason: str, raw: bytes) -> KubeError:
    try:
        data = orjson.loads(raw) if raw else {}
    except ValueError:
        data = {}
    return KubeError(status, str(data.get("reason", reason)), str(data.get("message", raw[:200])), data)


class KubeConfigError(Exception):
    """No usable credentials: neither in a pod nor a readable kubeconfig."""


def _data_file(data: str, directory: Path, name: str) -> str:
    path = directory / name
    path.write_bytes(base64.b64decode(data))
    return str(path)


class _Aiohttp:
    """Requests on one aiohttp session; a token file is re-read now and then (rotation)."""

    def __init__(self, server: str, ssl_context: ssl.SSLContext | bool, auth: dict[str, str], token_file: str | None):
        self._server = server.rstrip("/")
        self._requests: aiohttp.ClientSession | None = None
        # Watches on a session of their own, unbounded: each holds its connection for minutes, one per kind and
        # namespace, so on the requests' pool a namespace list of a few dozen would take every connection and stall
        # every request (the watches included, waiting for the list that starts them).
        self._streams: aiohttp.ClientSession | None = None
        self._ssl = ssl_context
        self._auth = auth
        self._token_file = token_file
        self._token_read = 0.0

    def _headers(self) -> dict[str, str]:
        if self._token_file and time.monotonic() - self._token_read > TOKEN_REREAD_SECONDS:
            self._auth = {"Authorization": f"Bearer {Path(self._token_file).read_text().strip()}"}
            self._token_read = time.monotonic()
        return self._auth

    def _request_session(self) -> aiohttp.ClientSession:
        if self._requests is None:
            connector = aiohttp.TCPConnector(ssl=self._ssl, limit=REQUEST_CONNECTIONS)
            self._requests = aiohttp.ClientSession(connector=connector)
        return self._requests

    def _stream_session(self) -> aiohttp.ClientSession:
        if self._streams is None:
            self._streams = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self._ssl, limit=0))
        return self._streams

    async def stream(
        self, path: str, query: list[tuple[str, str | int]], headers: dict[str, str], read_timeout: float
    ) -> AsyncIterator[bytes]:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=read_timeout)
        async with self._stream_session().get(
            self._server + path,
            params=[(k, str(v)) for k, v in query],
            headers={**headers, **self._headers()},
            timeout=timeout,
        ) as response:
            if response.status != 200:
                raise _stream_error(response.status, response.reason or "", await response.read())
            async for line in _lines(response.content.iter_any()):
                yield line

    async def send(
        self, method: str, path: str, query: list[tuple[str, str | int]], headers: dict[str, str], body: Any
    ) -> tuple[int, str, bytes]:
        data = None if body is None else orjson.dumps(body)
        async with self._request_session().request(
            method,
            self._server + path,
            params=[(k, str(v)) for k, v in query],
            headers={**headers, **self._headers()},
            data=data,
        ) as response:
            return response.status, response.reason or "", await response.read()

    async def close(self) -> None:
        for session in (self._requests, self._streams):
            if session is not None:
                await session.close()


class _ApiClient:
    """kubernetes_asyncio's ApiClient: for kubeconfig users that need an exec or auth-provider plugin."""

    def __init__(self, api: Any) -> None:
        self._api = api

    async def send(
        self, method: str, path: str, query: list[tuple[str, str | int]], headers: dict[str, str], body: Any
    ) -> tuple[int, str, bytes]:
        response = await self._api.call_api(
            path,
            method,
            query_params=query,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
        )
        try:
            return response.status, str(response.reason or ""), await response.read()
        finally:
            response.release()

    async def stream(
        self, path: str, query: list[tuple[str, str | int]], headers: dict[str, str], read_timeout: float
    ) -> AsyncIterator[bytes]:
        response = await self._api.call_api(
            path,
            "GET",
            query_params=query,
            header_params=headers,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=read_timeout,
        )
        try:
            if response.status != 200:
                raise _stream_error(response.status, str(response.reason or ""), await response.read())
            async for line in _lines(response.content.iter_any()):
                yield line
        finally:
            response.release()

    async def close(self) -> None:
        await self._api.close()


def in_cluster_server() -> str | None:
    """The apiserver's address in a pod with a service account (as the client libraries find it, no DNS needed)."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port or not (SA_DIR / "token").exists():
        return None
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def _in_cluster() -> _Aiohttp | None:
    server, token = in_cluster_server(), SA_DIR / "token"
    if server is None:
        return None
    context = ssl.create_default_context(cafile=str(SA_DIR / "ca.crt"))
    return _Aiohttp(server, context, {}, str(token))


def _read_kubeconfig(path: str | None) -> tuple[Path, dict[str, Any]]:
    file = Path(path or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or Path.home() / ".kube" / "config")
    try:
        return file, yaml.safe_load(file.read_text()) or {}
    except OSError as exc:
        raise KubeConfigError(f"no in-cluster credentials and no readable kubeconfig at {file}: {exc}") from exc


@dataclass(frozen=True)
class KubeCredentials:
    """A kubeconfig's current context, resolved: file paths absolute, inline data written to files."""

    file: Path
    server: str
    ca_file: str | None
    insecure: bool
    cert_file: str | None
    key_file: str | None
    token: str | None
    token_file: str | None
    username: str | None
    password: str | None
    plugin: bool  # an exec or auth-provider user: only kubernetes_asyncio can log in with it


def kubeconfig_credentials(path: str | None = None) -> KubeCredentials:
    """The current context (or the only/first one when none is set, as test kubeconfigs leave it)."""
    file, config = _read_kubeconfig(path)
    contexts = {c["name"]: c.get("context") or {} for c in config.get("contexts") or []}
    context = contexts.get(config.get("current-context", "")) or next(iter(contexts.values()), {})
    clusters = {c["name"]: c.get("cluster") or {} for c in config.get("clusters") or []}
    users = {u["name"]: u.get("user") or {} for u in config.get("users") or []}
    cluster, user = clusters.get(context.get("cluster", ""), {}), users.get(context.get("user", ""), {})
    if not cluster.get("server"):
        raise KubeConfigError(f"kubeconfig {file}: the current context names no cluster with a server")

    def resolve(value: str | None, data: str | None, name: str) -> str | None:
        if data:
            scratch = Path(tempfile.mkdtemp(prefix="supertest-kube-"))
            return _data_file(data, scratch, name)
        return str((file.parent / value).resolve()) if value else None  # relative to the kubeconfig's folder

    return KubeCredentials(
        file=file,
        server=cluster["server"],
        ca_file=resolve(cluster.get("certificate-authority"), cluster.get("certificate-authority-data"), "ca.crt"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        cert_file=resolve(user.get("client-certificate"), user.get("client-certificate-data"), "client.crt"),
        key_file=resolve(user.get("client-key"), user.get("client-key-data"), "client.key"),
        token=user.get("token"),
        token_file=resolve(user.get("tokenFile"), None, ""),
        username=user.get("username"),
        password=user.get("password"),
        plugin="exec" in user or "auth-provider" in user,
    )


async def _from_kubeconfig(path: str | None) -> _Transport:
    creds = kubeconfig_credentials(path)
    if creds.plugin:
        from kubernetes_asyncio import client as k8s_client
        from kubernetes_asyncio import config as k8s_config

        configuration = k8s_client.Configuration()
        await k8s_config.load_kube_config(config_file=str(creds.file), client_configuration=configuration)
        return _ApiClient(k8s_client.ApiClient(configuration))
    context_ssl: ssl.SSLContext | bool = False
    if not creds.insecure:
        context_ssl = ssl.create_default_context(cafile=creds.ca_file)
        if creds.cert_file:
            context_ssl.load_cert_chain(creds.cert_file, creds.key_file)
    auth: dict[str, str] = {}
    if creds.token:
        auth = {"Authorization": f"Bearer {creds.token}"}
    elif creds.username:
        basic = base64.b64encode(f"{creds.username}:{creds.password or ''}".encode()).decode()
        auth = {"Authorization": f"Basic {basic}"}
    return _Aiohttp(creds.server, context_ssl, auth, creds.token_file)


class KubeApi:
    def __init__(self, transport: _Transport, request_timeout: float = 60.0) -> None:
        self._transport = transport
        self._timeout = request_timeout

    @classmethod
    async def connect(cls, kubeconfig: str | None = None, request_timeout: float = 60.0) -> KubeApi:
        """In-cluster credentials when present (and no explicit kubeconfig), else the kubeconfig (KUBECONFIG or
        ~/.kube/config), read now, not at import time."""
        transport = None if kubeconfig is not None else _in_cluster()
        return cls(transport or await _from_kubeconfig(kubeconfig), request_timeout)

    async def close(self) -> None:
        await self._transport.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Obj:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        async with asyncio_timeout(self._timeout):
            status, reason, raw = await self._transport.send(method, path, list((query or {}).items()), headers, body)
        # orjson: the operator parses every run and pod it is sent (watch events, write answers); the stdlib's
        # decoder was its largest single cost in a burst (bench/burst.py, profiled).
        data: Obj = orjson.loads(raw) if raw else {}
        if not 200 <= status <= 299:
            reason, message = str(data.get("reason", reason)), str(data.get("message", raw))
            raise KubeError(status, reason, message, data)
        return data

    async def get(self, path: str) -> Obj:
        return await self.request("GET", path)

    async def list(self, path: str, label_selector: str | None = None) -> list[Obj]:
        """All items, paged; each item gets the list's kind back (a list strips it)."""
        items: list[Obj] = []
        async for page, _ in self.pages(path, label_selector):
            items.extend(page)
        return items

    async def pages(
        self, path: str, label_selector: str | None = None
    ) -> AsyncIterator[tuple[builtins.list[Obj], str]]:
        """The list page by page (items with their kind, and the list's resourceVersion): a caller that keeps
        only part of each item never holds the whole list at once."""
        query: dict[str, str | int] = {"limit": LIST_PAGE}
        if label_selector:
            query["labelSelector"] = label_selector
        while True:
            page = await self.request("GET", path, query=query)
            kind = str(page.get("kind", "")).removesuffix("List")
            items: builtins.list[Obj] = page.get("items") or []
            for item in items:
                item.setdefault("kind", kind)
            meta = page.get("metadata") or {}
            yield items, str(meta.get("resourceVersion") or "")
            token = meta.get("continue")
            if not token:
                return
            query["continue"] = token

    async def watch(
        self, path: str, resource_version: str, timeout_seconds: int, label_selector: str | None = None
    ) -> AsyncIterator[Obj]:
        """Watch events from `resource_version` on ({"type", "object"}), bookmarks included, until the server ends
        the watch (after about `timeout_seconds`). An ERROR event (410 Gone: the version is too old) raises."""
        query: list[tuple[str, str | int]] = [
            ("watch", "1"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", timeout_seconds),
        ]
        if label_selector:
            query.append(("labelSelector", label_selector))
        headers = {"Accept": "application/json"}
        async for line in self._transport.stream(path, query, headers, read_timeout=timeout_seconds + 30):
            event: Obj = orjson.loads(line)
            if event.get("type") == "ERROR":
                status = event.get("object") or {}
                code = int(status.get("code") or 500)
                raise KubeError(code, str(status.get("reason", "")), str(status.get("message", "")), status)
            yield event

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
