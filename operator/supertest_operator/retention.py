"""Retention: cap and expire the Redis event streams, and delete old Postgres rows and S3 reports, in batches.

Redis is walked with SCAN (never KEYS); rows go in batches of RETENTION_BATCH_SIZE, each batch's
reports deleted from S3 before the next; a final S3 sweep removes reports whose rows are already gone.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import redis.asyncio as aioredis
import structlog
from sqlalchemy.orm import Session, sessionmaker

from supertest.artifacts import ArtifactStore, create_store, run_prefix
from supertest.db import runs as run_repo
from supertest.db.engine import session_scope
from supertest_operator import metrics
from supertest_operator.settings import OperatorSettings

log = structlog.get_logger("supertest.operator.retention")
STREAM_PATTERN = "supertest:run:*:events"
SCAN_COUNT = 500


@dataclass
class RetentionReport:
    streams_seen: int = 0
    streams_expired: int = 0
    rows_deleted: int = 0
    row_batches: int = 0
    reports_deleted: int = 0


async def trim_streams(redis: aioredis.Redis, maxlen: int, ttl_seconds: int, report: RetentionReport) -> None:
    """Every stream: XTRIM MAXLEN ~ and an EXPIRE when it has none (e.g. written by an older runner)."""
    async for key in redis.scan_iter(match=STREAM_PATTERN, count=SCAN_COUNT, _type="stream"):
        report.streams_seen += 1
        async with redis.pipeline(transaction=False) as pipe:
            pipe.xtrim(key, maxlen=maxlen, approximate=True)
            pipe.ttl(key)
            _, ttl = await pipe.execute()
        if cast(int, ttl) < 0:
            await redis.expire(key, ttl_seconds)
            report.streams_expired += 1


def delete_old_rows(
    sessions: sessionmaker[Session], stores: list[ArtifactStore], cutoff: datetime, batch: int, report: RetentionReport
) -> None:
    while True:
        with session_scope(sessions) as session:
            ids = run_repo.delete_finished_before(session, cutoff, batch_size=batch)
        if not ids:
            return
        report.row_batches += 1
        report.rows_deleted += len(ids)
        metrics.RETENTION_DELETED.labels(store="postgres").inc(len(ids))
        for run_id in ids:
            for store in stores:
                report.reports_deleted += _delete_run(store, run_id)


def _delete_run(store: ArtifactStore, run_id: str) -> int:
    try:
        count = store.delete_prefix(run_prefix(run_id))
    except ValueError:  # not a DNS label: nothing of ours can be stored under it
        return 0
    metrics.RETENTION_DELETED.labels(store="s3").inc(count)
    return count


def sweep_old_reports(stores: list[ArtifactStore], cutoff: datetime, report: RetentionReport) -> None:
    """Runs whose newest object is older than the cutoff lose all their objects."""
    for store in stores:
        newest: dict[str, float] = defaultdict(float)
        for obj in store.list("runs/"):
            parts = obj.key.split("/", 2)
            if len(parts) == 3:
                newest[parts[1]] = max(newest[parts[1]], obj.last_modified)
        for run_id, stamp in newest.items():
            if stamp < cutoff.timestamp():
                report.reports_deleted += _delete_run(store, run_id)


def artifact_stores(settings: OperatorSettings) -> list[ArtifactStore]:
    if not settings.s3_endpoint:
        return []
    # Two buckets: tests and jobs. The same name twice means one store.
    kinds = ["test"] if settings.s3_job_bucket_name == settings.s3_test_bucket_name else ["test", "job"]
    return [create_store(settings, kind) for kind in kinds]


async def run_once(
    settings: OperatorSettings, redis: aioredis.Redis | None, sessions: sessionmaker[Session] | None
) -> RetentionReport:
    report = RetentionReport()
    cutoff = datetime.now(UTC) - timedelta(days=settings.retention_days)
    if redis is not None:
        await trim_streams(redis, settings.event_stream_maxlen, settings.event_stream_ttl_seconds, report)
    stores = artifact_stores(settings)
    if sessions is not None:
        await asyncio.to_thread(delete_old_rows, sessions, stores, cutoff, settings.retention_batch_size, report)
    if stores:
        await asyncio.to_thread(sweep_old_reports, stores, cutoff, report)
    log.info("retention_done", **report.__dict__)
    return report
