"""How the API lists a run's attachments (their bytes come from the artifacts origin)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Literal

from pydantic import Field

from supertest_api.common import CamelModel

ArtifactKind = Literal["screenshot", "video", "trace", "other"]
# The HTML report copies every attachment into report/data/<sha1>.<ext>; the extension tells what it is.
ARTIFACT_KINDS: dict[str, ArtifactKind] = {
    ".png": "screenshot",
    ".jpg": "screenshot",
    ".jpeg": "screenshot",
    ".webm": "video",
    ".mp4": "video",
    ".zip": "trace",
}


def artifact_kind(path: str) -> ArtifactKind:
    return ARTIFACT_KINDS.get(PurePosixPath(path).suffix.lower(), "other")


class ArtifactOut(CamelModel):
    path: str = Field(description="Path under the run's artifacts, e.g. report/data/<sha1>.png")
    url: str = Field(description="Where the artifacts origin serves it (a run-scoped, expiring URL)")
    kind: ArtifactKind
    size: int


class ArtifactListOut(CamelModel):
    items: list[ArtifactOut]
