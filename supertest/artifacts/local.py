"""Filesystem store for local mode; keys map to paths under one root folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from supertest.artifacts.base import ArtifactNotFound, ByteRange, ObjectInfo


class LocalArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise ArtifactNotFound(key)
        return path

    def ensure_ready(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    def upload_dir(self, prefix: str, directory: Path) -> int:
        count = 0
        for file in sorted(p for p in directory.rglob("*") if p.is_file()):
            self.put_file(prefix + file.relative_to(directory).as_posix(), file)
            count += 1
        return count

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        if not path.is_file():
            raise ArtifactNotFound(key)
        st = path.stat()
        return ObjectInfo(key=key, size=st.st_size, last_modified=st.st_mtime)

    def open_range(self, key: str, byte_range: ByteRange | None = None, chunk_size: int = 65536) -> Iterator[bytes]:
        path = self._path(key)
        if not path.is_file():
            raise ArtifactNotFound(key)
        return _iter_file(path, byte_range, chunk_size)

    def read_bytes(self, key: str) -> bytes:
        return b"".join(self.open_range(key))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not base.exists():
            return
        for file in sorted(p for p in base.rglob("*") if p.is_file() and not p.name.endswith(".part")):
            st = file.stat()
            yield ObjectInfo(key=file.relative_to(self.root).as_posix(), size=st.st_size, last_modified=st.st_mtime)

    def delete_prefix(self, prefix: str, batch_size: int = 1000) -> int:
        keys = [info.key for info in self.list(prefix)]
        for key in keys:
            self._path(key).unlink(missing_ok=True)
        base = self._path(prefix.rstrip("/"))
        if base.is_dir() and base != self.root:
            shutil.rmtree(base, ignore_errors=True)
        return len(keys)


def _iter_file(path: Path, byte_range: ByteRange | None, chunk_size: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        remaining = None
        if byte_range is not None:
            fh.seek(byte_range.start)
            remaining = byte_range.length
        while remaining is None or remaining > 0:
            size = chunk_size if remaining is None else min(chunk_size, remaining)
            chunk = fh.read(size)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
