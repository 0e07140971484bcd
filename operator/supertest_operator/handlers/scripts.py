"""The files a run's pod gets: inline or ConfigMap scripts from the spec, or a stored job's tests for jobRef."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy.orm import Session, sessionmaker

from supertest.db import catalog
from supertest.db.engine import session_scope
from supertest.kube.models import JobRunSpec, TestRunSpec
from supertest_operator.builders import ScriptFile, script_files


class ScriptsUnavailable(Exception):
    """The run's scripts cannot be found: an Error the user must fix (not retried)."""


def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", title).strip("-.")[:60] or "test"


def stored_job_files(session: Session, job_id: str) -> list[ScriptFile]:
    try:
        job = catalog.get_job(session, job_id)
    except catalog.NotFound as exc:
        raise ScriptsUnavailable(f"jobRef {job_id!r} names no stored job") from exc
    if not job.tests:
        raise ScriptsUnavailable(f"job {job_id!r} has no tests")
    files: list[ScriptFile] = []
    for i, link in enumerate(job.tests, start=1):
        ext = "ts" if link.test.language == "typescript" else "js"
        files.append(ScriptFile(f"{i:02d}-{_slug(link.test.title)}.spec.{ext}", content=link.test.script))
    return files


async def resolve(spec: TestRunSpec | JobRunSpec, sessions: sessionmaker[Session] | None) -> list[ScriptFile]:
    if isinstance(spec, JobRunSpec) and spec.job_ref is not None:
        if sessions is None:
            raise ScriptsUnavailable("spec.jobRef needs the operator's DATABASE_URL to read the stored job")
        ref = spec.job_ref

        def load() -> list[ScriptFile]:
            with session_scope(sessions) as session:
                return stored_job_files(session, ref)

        return script_files(spec, await asyncio.to_thread(load))
    return script_files(spec)
