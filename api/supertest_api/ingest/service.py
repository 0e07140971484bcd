"""Ingest: a run's events onto its own stream, its files under its own `runs/{name}/` prefix."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import unquote

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError

from supertest.artifacts import ArtifactNotFound, ArtifactStore
from supertest.artifacts.layout import InvalidArtifactPath, run_prefix, safe_relative_path
from supertest.bus.base import EventBus
from supertest.events import EventType, RunEvent, truncate_line
from supertest.run_token import RunClaims
from supertest_api.errors import Forbidden, InvalidPath, NotFoundError, PayloadTooLarge, ServiceUnavailable

INGEST_PREFIX = "/ingest/runs/"
# The runner cuts lines at 16 KiB by default; the API holds every token-bearer to the same bound.
MAX_LINE_BYTES = 16 * 1024
MAX_MESSAGE_BYTES = 4096
# One report file, video or trace; a larger file is refused rather than filling the disk or the bucket.
MAX_ARTIFACT_BYTES = 512 * 1024 * 1024
# The only part of its own run a token may read back: the shards' outputs, which the merge pod needs. Nothing
# else: a run pod has no use for its report or logs, and a script in it should learn as little as possible.
READABLE_PREFIX = "shards/"


def artifact_body_limit(path: str) -> int | None:
    """The body cap of an artifact upload (the API's 2 MiB JSON cap stays on everything else)."""
    if path.startswith(INGEST_PREFIX) and "/artifacts/" in path:
        return MAX_ARTIFACT_BYTES
    return None


def bounded(event: RunEvent, claims: RunClaims) -> RunEvent:
    if event.run_id != claims.name:
        raise Forbidden(f"an event for run {event.run_id!r} on the stream of run {claims.name!r}")
    update: dict[str, object] = {}
    if event.line is not None:
        update["line"] = truncate_line(event.line, MAX_LINE_BYTES)
    if event.message is not None:
        update["message"] = truncate_line(event.message, MAX_MESSAGE_BYTES)
    if event.type is EventType.RESULT:
        update["failures"] = (event.failures or [])[:50]
    return event.model_copy(update=update) if update else event


async def publish(bus: EventBus, claims: RunClaims, events: list[RunEvent]) -> int:
    checked = [bounded(e, claims) for e in events]  # all or none: one foreign event refuses the batch
    for event in checked:
        await bus.publish(event)
    return len(checked)


def artifact_key(claims: RunClaims, path: str) -> str:
    try:
        return run_prefix(claims.name) + safe_relative_path(path)
    except InvalidArtifactPath as exc:
        raise InvalidPath(str(exc)) from exc


def readable_key(claims: RunClaims, path: str) -> str:
    """The key of `path` under the run's own shards/ prefix; traversal (also percent-encoded once more than the
    server decodes) is a 400, any other part of the run a 403."""
    try:
        decoded = unquote(path)
        if decoded != path:
            safe_relative_path(decoded)
        relative = safe_relative_path(path)
    except InvalidArtifactPath as exc:
        raise InvalidPath(str(exc)) from exc
    if not relative.startswith(READABLE_PREFIX):
        raise Forbidden(f"a run token reads only its run's {READABLE_PREFIX} outputs, not {relative!r}")
    return run_prefix(claims.name) + relative


def open_artifact(store: ArtifactStore, key: str) -> Iterator[bytes]:
    """Blocking (call it off the loop): the object as chunks, for a streamed answer; never whole in memory."""
    try:
        return store.open_range(key)
    except ArtifactNotFound as exc:
        raise NotFoundError(f"no file {key!r}") from exc
    except (BotoCoreError, ClientError, OSError) as exc:
        raise _unreachable(exc) from exc


async def store_artifact(
    store: ArtifactStore, key: str, body: AsyncIterator[bytes], content_type: str | None, limit: int
) -> int:
    """Spooled to a temporary file (never whole in memory), then stored; returns the size."""
    with tempfile.NamedTemporaryFile(prefix="supertest-ingest-") as spool:
        size = 0
        async for chunk in body:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"an artifact is limited to {limit} bytes")
            spool.write(chunk)
        spool.flush()
        try:
            await asyncio.to_thread(store.put_file, key, Path(spool.name), content_type)
        except (Boto3Error, BotoCoreError, ClientError, OSError) as exc:
            # Boto3Error: upload_file wraps the store's answer in S3UploadFailedError, which is neither of the others.
            # The runner retries on 503, and exits UploadFailed (retried by the operator) if it lasts.
            raise _unreachable(exc) from exc
    return size


def _unreachable(exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(f"the artifact store is unreachable; try again shortly ({type(exc).__name__})")
