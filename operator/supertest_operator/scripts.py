"""The files a run's pod gets: inline or ConfigMap scripts, stored tests (testId), or a TestJob/stored job (jobRef)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from supertest.db import catalog
from supertest.db.engine import in_session
from supertest.kube import jobref
from supertest.kube.client import KubeApi
from supertest.kube.models import JobRunSpec, JobTest, TestJobSpec, TestRunSpec
from supertest.launch import job_test_name
from supertest_operator.builders import ScriptFile, StoredScript, job_test_files, script_files

T = TypeVar("T")


class ScriptsUnavailable(Exception):
    """The run's scripts cannot be found: an Error the user must fix (not retried)."""


def stored_job_files(session: Session, job_id: str) -> list[ScriptFile]:
    try:
        job = catalog.get_job(session, job_id)
    except catalog.NotFound as exc:
        raise ScriptsUnavailable(
            f"jobRef {job_id!r} names no TestJob in the run's namespace and no stored job"
        ) from exc
    if not job.tests:
        raise ScriptsUnavailable(f"job {job_id!r} has no tests")
    files: list[ScriptFile] = []
    for i, link in enumerate(job.tests, start=1):
        ext = "ts" if link.test.language == "typescript" else "js"
        files.append(ScriptFile(f"{job_test_name(i, link.test.title)}.spec.{ext}", content=link.test.script))
    return files


def stored_tests(session: Session, test_ids: Sequence[str]) -> dict[str, StoredScript]:
    found: dict[str, StoredScript] = {}
    for test_id in test_ids:
        try:
            test = catalog.get_test(session, test_id)
        except catalog.NotFound as exc:
            raise ScriptsUnavailable(f"testId {test_id!r} names no stored test") from exc
        found[test_id] = StoredScript(test.script, "typescript" if test.language == "typescript" else "javascript")
    return found


async def _testjob_tests(kube: KubeApi | None, namespace: str, name: str) -> list[JobTest] | None:
    """The tests of TestJob `name` in the run's namespace, or None when there is no such TestJob."""
    if kube is None:
        return None
    spec = await jobref.testjob_spec(kube, namespace, name)
    if spec is None:
        return None
    try:
        return TestJobSpec.model_validate(spec).tests
    except ValidationError as exc:
        raise ScriptsUnavailable(f"TestJob {name!r} has an invalid spec: {exc}") from exc


async def resolve(
    spec: TestRunSpec | JobRunSpec,
    sessions: sessionmaker[Session] | None,
    kube: KubeApi | None = None,
    namespace: str = "",
) -> list[ScriptFile]:
    if isinstance(spec, TestRunSpec):
        return script_files(spec)
    tests = spec.tests
    if tests is None and spec.job_ref is not None:
        tests = await _testjob_tests(kube, namespace, spec.job_ref)
        if tests is None:
            return await _load(sessions, "spec.jobRef", lambda s: stored_job_files(s, str(spec.job_ref)))
    assert tests is not None, "JobRunSpec has tests or jobRef"
    ids = [t.test_id for t in tests if t.test_id is not None]
    stored = await _load(sessions, "a testId", lambda s: stored_tests(s, ids)) if ids else {}
    return job_test_files(tests, stored)


async def _load(sessions: sessionmaker[Session] | None, what: str, fn: Callable[[Session], T]) -> T:
    if sessions is None:
        raise ScriptsUnavailable(f"{what} needs the operator's DATABASE_URL to read stored tests")
    return await in_session(sessions, fn)
