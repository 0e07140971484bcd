"""S3-compatible store through boto3 (MinIO, versitygw, SeaweedFS, AWS)."""

from __future__ import annotations

import builtins
import mimetypes
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from supertest.artifacts.base import ArtifactNotFound, ByteRange, ObjectInfo

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_FORBIDDEN = {"403", "AccessDenied", "Forbidden"}


class S3ArtifactStore:
    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        connect_timeout: float = 5.0,
        max_attempts: int = 3,
    ) -> None:
        self.bucket = bucket
        # Writers make sure of the bucket once per process: since run pods upload through the API, nothing else
        # creates it on a fresh store (the runner used to, with the platform's keys).
        self._bucket_ready = False
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=30,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            s3={"addressing_style": "path"},
            signature_version="s3v4",
        )
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )

    def ensure_ready(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in _NOT_FOUND and _code(exc) != "NoSuchBucket":
                raise
            self._client.create_bucket(Bucket=self.bucket)
        self._bucket_ready = True

    def _ensure_bucket_once(self) -> None:
        if self._bucket_ready:
            return
        try:
            self.ensure_ready()
        except ClientError as exc:
            if _code(exc) not in _FORBIDDEN:
                raise
            # Keys that may write but not list (least privilege on AWS): the bucket is the operator's to create.
            self._bucket_ready = True

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        self._ensure_bucket_once()
        extra = {"ContentType": content_type or guess_type(key)}
        self._client.upload_file(str(path), self.bucket, key, ExtraArgs=extra)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._ensure_bucket_once()
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type or guess_type(key))

    def upload_dir(self, prefix: str, directory: Path) -> int:
        count = 0
        for file in sorted(p for p in directory.rglob("*") if p.is_file()):
            self.put_file(prefix + file.relative_to(directory).as_posix(), file)
            count += 1
        return count

    def stat(self, key: str) -> ObjectInfo:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise ArtifactNotFound(key) from exc
            raise
        return ObjectInfo(key=key, size=int(head["ContentLength"]), last_modified=head["LastModified"].timestamp())

    def open_range(self, key: str, byte_range: ByteRange | None = None, chunk_size: int = 65536) -> Iterator[bytes]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if byte_range is not None:
            kwargs["Range"] = f"bytes={byte_range.start}-{byte_range.end}"
        try:
            body = self._client.get_object(**kwargs)["Body"]
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise ArtifactNotFound(key) from exc
            raise
        return _iter_body(body, chunk_size)

    def read_bytes(self, key: str) -> bytes:
        return b"".join(self.open_range(key))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield ObjectInfo(key=obj["Key"], size=int(obj["Size"]), last_modified=obj["LastModified"].timestamp())

    def delete_prefix(self, prefix: str, batch_size: int = 1000) -> int:
        deleted = 0
        batch: list[dict[str, str]] = []
        for info in self.list(prefix):
            batch.append({"Key": info.key})
            if len(batch) >= batch_size:
                deleted += self._delete_batch(batch)
                batch = []
        if batch:
            deleted += self._delete_batch(batch)
        return deleted

    def _delete_batch(self, batch: builtins.list[dict[str, str]]) -> int:
        self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return len(batch)


def guess_type(key: str) -> str:
    guessed, _ = mimetypes.guess_type(key)
    if key.endswith(".webm"):
        return "video/webm"
    if key.endswith(".zip"):
        return "application/zip"
    return guessed or "application/octet-stream"


def _iter_body(body: Any, chunk_size: int) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
