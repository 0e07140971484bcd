"""Artifact store: the Playwright report, results.json and logs of each run."""

from __future__ import annotations

from supertest.artifacts.base import ArtifactNotFound, ArtifactStore, ByteRange, ObjectInfo
from supertest.artifacts.layout import (
    InvalidArtifactPath,
    artifact_scope,
    artifact_url,
    logs_key,
    report_key,
    report_prefix,
    report_url,
    results_key,
    results_url,
    run_prefix,
    safe_relative_path,
)
from supertest.artifacts.local import LocalArtifactStore
from supertest.settings import CoreSettings


def create_store(settings: CoreSettings, kind: str = "test") -> ArtifactStore:
    """Tests and jobs keep their artifacts in separate buckets, as the seed does."""
    if settings.s3_endpoint:
        # Imported here: boto3 costs a quarter of a second at import, which local mode and every process that
        # only needs the key layout (the runner's start-up among them) should not pay.
        from supertest.artifacts.s3 import S3ArtifactStore

        bucket = settings.s3_job_bucket_name if kind == "job" else settings.s3_test_bucket_name
        secret = settings.aws_secret_access_key.get_secret_value() if settings.aws_secret_access_key else None
        return S3ArtifactStore(
            bucket=bucket,
            endpoint_url=settings.s3_endpoint,
            region=settings.aws_region,
            access_key=settings.aws_access_key_id,
            secret_key=secret,
        )
    return LocalArtifactStore(settings.effective_artifacts_dir / kind)


__all__ = [
    "ArtifactNotFound",
    "ArtifactStore",
    "ByteRange",
    "InvalidArtifactPath",
    "LocalArtifactStore",
    "ObjectInfo",
    "artifact_scope",
    "artifact_url",
    "create_store",
    "logs_key",
    "report_key",
    "report_prefix",
    "report_url",
    "results_key",
    "results_url",
    "run_prefix",
    "safe_relative_path",
]
