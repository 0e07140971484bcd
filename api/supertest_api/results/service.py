"""The report proxy: run artifacts from the store, with traversal checks, types and byte ranges."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import unquote

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from supertest.artifacts import (
    ArtifactNotFound,
    ArtifactStore,
    ByteRange,
    InvalidArtifactPath,
    ObjectInfo,
    run_prefix,
    safe_relative_path,
)
from supertest.artifacts.layout import check_run_id, results_url
from supertest.db import runs as run_repo
from supertest.db.engine import in_session
from supertest_api.errors import InvalidPath, NotFoundError, RangeNotSatisfiable
from supertest_api.resources import AppResources
from supertest_api.results.schemas import ArtifactListOut, ArtifactOut, artifact_kind, content_type


@dataclass(frozen=True, slots=True)
class Artifact:
    key: str
    path: str
    info: ObjectInfo
    store: ArtifactStore


def safe_path(path: str) -> str:
    """The run-relative path, refusing traversal in plain, encoded and double-encoded forms."""
    if path.endswith("/"):
        path += "index.html"
    try:
        decoded = unquote(path)
        if decoded != path:  # the server decoded once; %252e%252e arrives here as %2e%2e
            safe_relative_path(decoded)
        return safe_relative_path(path)
    except InvalidArtifactPath as exc:
        raise InvalidPath(f"invalid report path: {exc}") from exc


async def _run_kind(factory: sessionmaker[Session], run_id: str) -> str:
    try:
        check_run_id(run_id)
        return await in_session(factory, lambda s: run_repo.get(s, run_id).kind)
    except (run_repo.RunNotFound, InvalidArtifactPath) as exc:
        raise NotFoundError(f"run {run_id!r} not found") from exc


async def locate(resources: AppResources, run_id: str, path: str) -> Artifact:
    relative = safe_path(path)
    kind = await _run_kind(resources.session_factory, run_id)
    store = resources.store_for(kind)
    key = run_prefix(run_id) + relative
    try:
        info = await run_in_threadpool(store.stat, key)
    except ArtifactNotFound as exc:
        raise NotFoundError(f"no file {relative!r} in the artifacts of run {run_id}") from exc
    return Artifact(key=key, path=relative, info=info, store=store)


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One `bytes=` range, or None to send the whole file (multi-range and malformed headers are ignored)."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    spec = spec.strip()
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0 or size == 0:
                raise RangeNotSatisfiable(size)
            return ByteRange(max(0, size - suffix), size - 1)
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start < 0 or end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(size)
    return ByteRange(start, min(end, size - 1))


def etag(info: ObjectInfo) -> str:
    return f'"{info.size:x}-{int(info.last_modified * 1000):x}"'


def headers_for(run_id: str, artifact: Artifact) -> dict[str, str]:
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Type": content_type(artifact.path),
        "ETag": etag(artifact.info),
        "Last-Modified": formatdate(artifact.info.last_modified, usegmt=True),
        # Reports change while a run uploads; revalidate cheaply with the ETag.
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "SAMEORIGIN",
    }
    if artifact.path.rsplit("/", 1)[-1] == "sw.bundle.js":
        # The trace viewer's service worker may control the whole report of this run.
        headers["Service-Worker-Allowed"] = results_url(run_id)
    return headers


async def open_stream(artifact: Artifact, byte_range: ByteRange | None) -> Iterator[bytes]:
    # S3's get_object blocks, so even opening happens off the event loop.
    return await run_in_threadpool(artifact.store.open_range, artifact.key, byte_range)


# The report keeps attachments here; other report files (the app, trace viewer) are not artifacts.
ATTACHMENTS_DIR = "report/data/"
MAX_LISTED = 500


def _list_attachments(store: ArtifactStore, run_id: str) -> list[ArtifactOut]:
    prefix = run_prefix(run_id)
    items: list[ArtifactOut] = []
    for info in store.list(prefix + ATTACHMENTS_DIR):
        relative = info.key[len(prefix) :]
        items.append(
            ArtifactOut(
                path=relative,
                url=results_url(run_id, relative),
                kind=artifact_kind(relative),
                size=info.size,
            )
        )
        if len(items) >= MAX_LISTED:
            break
    # Screenshots, then videos, then traces: the order the UI lists them in.
    order = {"screenshot": 0, "video": 1, "trace": 2, "other": 3}
    return sorted(items, key=lambda a: (order[a.kind], a.path))


async def list_artifacts(resources: AppResources, run_id: str) -> ArtifactListOut:
    """Screenshots, videos and traces attached to a run's report (empty before the report is uploaded)."""
    kind = await _run_kind(resources.session_factory, run_id)
    store = resources.store_for(kind)
    return ArtifactListOut(items=await run_in_threadpool(_list_attachments, store, run_id))
