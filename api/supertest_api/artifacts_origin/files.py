"""Serving one run file from the store: traversal checks, types, ETags and byte ranges (videos seek)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import unquote

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
from supertest_api.artifacts_origin.types import content_type
from supertest_api.errors import InvalidPath, NotFoundError, RangeNotSatisfiable


@dataclass(frozen=True, slots=True)
class Artifact:
    key: str
    path: str
    info: ObjectInfo
    store: ArtifactStore


def safe_path(path: str) -> str:
    """The run-relative path, refusing traversal in plain, encoded and double-encoded forms."""
    if path == "" or path.endswith("/"):
        path += "index.html"
    try:
        decoded = unquote(path)
        if decoded != path:  # the server decoded once; %252e%252e arrives here as %2e%2e
            safe_relative_path(decoded)
        return safe_relative_path(path)
    except InvalidArtifactPath as exc:
        raise InvalidPath(f"invalid report path: {exc}") from exc


async def locate(store: ArtifactStore, run_id: str, path: str) -> Artifact:
    relative = safe_path(path)
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


def file_headers(artifact: Artifact) -> dict[str, str]:
    return {
        "Accept-Ranges": "bytes",
        "Content-Type": content_type(artifact.path),
        "ETag": etag(artifact.info),
        "Last-Modified": formatdate(artifact.info.last_modified, usegmt=True),
        # Reports change while a run uploads; revalidate cheaply with the ETag.
        "Cache-Control": "private, no-cache",
    }


async def open_stream(artifact: Artifact, byte_range: ByteRange | None) -> Iterator[bytes]:
    # S3's get_object blocks, so even opening happens off the event loop.
    return await run_in_threadpool(artifact.store.open_range, artifact.key, byte_range)
