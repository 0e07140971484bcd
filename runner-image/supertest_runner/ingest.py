"""The run pod's only way out: its live events and its artifacts go to the API's ingest endpoints, authorised by
this run's own token. The pod holds no Redis URL and no S3 key, so a script that reads everything the runner
knows can still write only to its own run, and read back only its run's shard outputs (the merge step's input)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

import httpx

from supertest.artifacts.base import ArtifactNotFound, ByteRange, ObjectInfo
from supertest.artifacts.layout import run_prefix
from supertest.events import RunEvent
from supertest.settings import RunnerSettings

EVENTS_TIMEOUT_SECONDS = 1.0
UPLOAD_TIMEOUT = httpx.Timeout(60.0, connect=5.0)


class IngestTarget:
    def __init__(self, settings: RunnerSettings) -> None:
        url, token, namespace = settings.ingest_url, settings.run_token, settings.run_namespace
        if not url or token is None or not namespace:
            raise ValueError("SUPERTEST_INGEST_URL needs SUPERTEST_RUN_TOKEN and SUPERTEST_RUN_NAMESPACE")
        self.run_id = settings.run_id
        self.base = f"{url.rstrip('/')}/ingest/runs/{quote(namespace, safe='')}/{quote(settings.run_id, safe='')}"
        self.headers = {"Authorization": f"Bearer {token.get_secret_value()}"}


class IngestTransport:
    """Batches of events to POST .../events; the caller (QueuedSink) bounds the time and counts failures."""

    def __init__(self, target: IngestTarget) -> None:
        self._url = target.base + "/events"
        self._client = httpx.AsyncClient(headers=target.headers, timeout=EVENTS_TIMEOUT_SECONDS)

    async def send(self, events: list[RunEvent]) -> None:
        body = {"events": [e.model_dump(mode="json", by_alias=True, exclude_none=True) for e in events]}
        response = await self._client.post(self._url, json=body)
        response.raise_for_status()

    async def close(self) -> None:
        await self._client.aclose()


class IngestArtifactStore:
    """The ArtifactStore the runner uploads through: each file one PUT under this run's prefix; reads are one GET,
    which the API allows only under the run's own shards/ prefix. Errors raise as httpx.HTTPStatusError (a 404 as
    ArtifactNotFound); the callers retry (upload.with_retries), for reads as for writes."""

    def __init__(self, target: IngestTarget) -> None:
        self._target = target
        self._prefix = run_prefix(target.run_id)
        self._client = httpx.Client(headers=target.headers, timeout=UPLOAD_TIMEOUT)

    def _url(self, key: str) -> str:
        if not key.startswith(self._prefix):
            raise ValueError(f"{key!r} is outside this run's prefix {self._prefix!r}")
        return f"{self._target.base}/artifacts/{quote(key[len(self._prefix) :])}"

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        with path.open("rb") as body:
            self._client.put(self._url(key), content=body, headers=headers).raise_for_status()

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        headers = {"Content-Type": content_type} if content_type else {}
        self._client.put(self._url(key), content=data, headers=headers).raise_for_status()

    def upload_dir(self, prefix: str, directory: Path) -> int:
        count = 0
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            self.put_file(prefix + path.relative_to(directory).as_posix(), path)
            count += 1
        return count

    def ensure_ready(self) -> None:
        """Nothing to create: the API owns the bucket. Reachability shows on the first PUT."""

    def open_range(self, key: str, byte_range: ByteRange | None = None, chunk_size: int = 65536) -> Iterator[bytes]:
        """Opened now (so a missing key raises here, as the other stores do), then streamed in chunks."""
        if byte_range is not None:
            raise NotImplementedError("the ingest API serves whole files only")
        response = self._client.send(self._client.build_request("GET", self._url(key)), stream=True)
        try:
            if response.status_code == 404:
                raise ArtifactNotFound(key)
            response.raise_for_status()
        except BaseException:
            response.close()
            raise
        return _chunks(response, chunk_size)

    def read_bytes(self, key: str) -> bytes:
        return b"".join(self.open_range(key))

    def stat(self, key: str) -> ObjectInfo:
        _unsupported()

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        _unsupported()

    def delete_prefix(self, prefix: str, batch_size: int = 1000) -> int:
        _unsupported()


def _chunks(response: httpx.Response, chunk_size: int) -> Iterator[bytes]:
    try:
        yield from response.iter_bytes(chunk_size)
    finally:
        response.close()


def _unsupported() -> NoReturn:
    raise NotImplementedError("a run pod can store its artifacts and read its shards' outputs, nothing else")
