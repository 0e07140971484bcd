"""The test catalogue: stored Playwright scripts people run from the playground, jobs or the API."""

from __future__ import annotations

from sqlalchemy.orm import Session

from supertest.db import catalog
from supertest.db.models import TestRecord, utcnow
from supertest.settings import ApiSettings
from supertest_api.catalog.schemas import TestIn, TestPatch
from supertest_api.errors import Conflict, NotFoundError
from supertest_api.validation import check_script


def get_test(session: Session, test_id: str) -> TestRecord:
    try:
        return catalog.get_test(session, test_id)
    except catalog.NotFound as exc:
        raise NotFoundError(str(exc)) from exc


def list_tests(session: Session, query: str | None, tag: str | None) -> list[TestRecord]:
    return catalog.list_tests(session, query=query, tag=tag)


def create_test(session: Session, settings: ApiSettings, body: TestIn) -> TestRecord:
    script = check_script(body.script, settings.max_script_bytes)
    return catalog.create_test(session, body.title, script, body.language, _dedupe(body.tags))


def replace_test(session: Session, settings: ApiSettings, test_id: str, body: TestIn) -> TestRecord:
    test = get_test(session, test_id)
    test.script = check_script(body.script, settings.max_script_bytes)
    test.title, test.language, test.tags = body.title, body.language, _dedupe(body.tags)
    test.updated_at = utcnow()
    session.flush()
    return test


def patch_test(session: Session, settings: ApiSettings, test_id: str, body: TestPatch) -> TestRecord:
    test = get_test(session, test_id)
    if body.script is not None:
        test.script = check_script(body.script, settings.max_script_bytes)
    if body.title is not None:
        test.title = body.title
    if body.language is not None:
        test.language = body.language
    if body.tags is not None:
        test.tags = _dedupe(body.tags)
    test.updated_at = utcnow()
    session.flush()
    return test


def delete_test(session: Session, test_id: str) -> None:
    test = get_test(session, test_id)
    # Refuse rather than silently shrink someone's job; they remove it from the job first.
    users = catalog.jobs_using(session, test_id)
    if users:
        names = ", ".join(f"{j.name!r} ({j.id})" for j in users)
        raise Conflict(
            f"test is used by job(s) {names}; remove it from them first", details={"jobIds": [j.id for j in users]}
        )
    catalog.delete(session, test)


def _dedupe(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))
