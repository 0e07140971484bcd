"""The API's side of run artifacts: it lists them and hands out artifacts-origin URLs, never their bytes."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from supertest.artifacts import ArtifactStore, InvalidArtifactPath, run_prefix
from supertest.artifacts.layout import check_run_id
from supertest.db import runs as run_repo
from supertest.db.engine import in_session
from supertest_api.artifacts_origin.files import safe_path
from supertest_api.artifacts_origin.links import ArtifactLinks
from supertest_api.errors import NotFoundError
from supertest_api.resources import AppResources
from supertest_api.results.schemas import ArtifactListOut, ArtifactOut, artifact_kind


async def _run_kind(factory: sessionmaker[Session], run_id: str) -> str:
    try:
        check_run_id(run_id)
        return await in_session(factory, lambda s: run_repo.get(s, run_id).kind)
    except (run_repo.RunNotFound, InvalidArtifactPath) as exc:
        raise NotFoundError(f"run {run_id!r} not found") from exc


async def artifact_location(resources: AppResources, links: ArtifactLinks | None, run_id: str, path: str) -> str:
    """Where the artifacts origin serves `path` of the run, under a fresh token for this viewer."""
    relative = safe_path(path)
    kind = await _run_kind(resources.session_factory, run_id)
    if links is None:
        raise NotFoundError("this server has no artifacts origin (set ARTIFACTS_URL); it serves no run files")
    return links.url(run_id, kind, relative)


# The report keeps attachments here; other report files (the app, trace viewer) are not artifacts.
ATTACHMENTS_DIR = "report/data/"
MAX_LISTED = 500


def _list_attachments(store: ArtifactStore, links: ArtifactLinks, run_id: str, kind: str) -> list[ArtifactOut]:
    prefix = run_prefix(run_id)
    items: list[ArtifactOut] = []
    for info in store.list(prefix + ATTACHMENTS_DIR):
        relative = info.key[len(prefix) :]
        items.append(
            ArtifactOut(
                path=relative,
                url=links.url(run_id, kind, relative),
                kind=artifact_kind(relative),
                size=info.size,
            )
        )
        if len(items) >= MAX_LISTED:
            break
    # Screenshots, then videos, then traces: the order the UI lists them in.
    order = {"screenshot": 0, "video": 1, "trace": 2, "other": 3}
    return sorted(items, key=lambda a: (order[a.kind], a.path))


async def list_artifacts(resources: AppResources, links: ArtifactLinks | None, run_id: str) -> ArtifactListOut:
    """Screenshots, videos and traces attached to a run's report (empty before the report is uploaded)."""
    kind = await _run_kind(resources.session_factory, run_id)
    if links is None:
        return ArtifactListOut(items=[])
    store = resources.store_for(kind)
    items = await run_in_threadpool(_list_attachments, store, links, run_id, kind)
    return ArtifactListOut(items=items)
