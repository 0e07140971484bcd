from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class ArtifactNotFound(KeyError):
    pass


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in HTTP

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: float  # epoch seconds


class ArtifactStore(Protocol):
    """Blocking API: callers in async code run it in a worker thread."""

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None: ...

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None: ...

    def upload_dir(self, prefix: str, directory: Path) -> int:
        """Upload every file under `directory` at `prefix` + its relative path; return the count."""
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Raise ArtifactNotFound if absent."""
        ...

    def open_range(self, key: str, byte_range: ByteRange | None = None, chunk_size: int = 65536) -> Iterator[bytes]:
        """Stream the object, or the inclusive byte range of it."""
        ...

    def read_bytes(self, key: str) -> bytes: ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]: ...

    def delete_prefix(self, prefix: str, batch_size: int = 1000) -> int:
        """Delete everything under the prefix in batches; return the count."""
        ...

    def ensure_ready(self) -> None:
        """Create the bucket or folder if needed; raise if the store is unreachable."""
        ...
