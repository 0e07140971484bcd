"""The Postgres mirror's logic on SQLite: vanished-run closing and the coalescing writer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from supertest_operator.db_mirror import DbMirror
from supertest_operator.handlers.orphans import NEVER_CREATED_MESSAGE, repair_vanished_rows

from supertest.db.engine import make_engine, make_session_factory, session_scope
from supertest.db.models import Base, RunRecord

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _db(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    Base.metadata.create_all(engine)
    return make_session_factory(engine)


def _add(
    sessions: sessionmaker[Session], run_id: str, phase: str, age: timedelta, namespace: str = "ns", uid: str = "u"
) -> None:
    with session_scope(sessions) as session:
        row = RunRecord(id=run_id, kind="test", phase=phase, namespace=namespace, created_at=NOW - age, k8s_uid=uid)
        session.add(row)


def test_unfinished_rows_of_vanished_runs_are_closed(tmp_path: Path) -> None:
    sessions = _db(tmp_path)
    _add(sessions, "gone", "Running", timedelta(minutes=5))
    _add(sessions, "never-created", "Queued", timedelta(seconds=31), uid="")  # the API died before its create
    _add(sessions, "alive", "Running", timedelta(minutes=5))
    _add(sessions, "fresh", "Queued", timedelta(seconds=5), uid="")  # the API's row, resource about to be created
    _add(sessions, "done", "Passed", timedelta(minutes=5))
    _add(sessions, "elsewhere", "Queued", timedelta(minutes=5), namespace="other")
    assert repair_vanished_rows(sessions, ["ns"], {("ns", "alive")}, timedelta(seconds=30), now=NOW) == 2
    with session_scope(sessions) as session:
        rows = {r.id: r for r in session.query(RunRecord)}
    assert {k: r.phase for k, r in rows.items()} == {
        "gone": "Cancelled",
        "never-created": "Error",
        "alive": "Running",
        "fresh": "Queued",
        "done": "Passed",
        "elsewhere": "Queued",
    }
    assert rows["never-created"].message == NEVER_CREATED_MESSAGE


async def test_mirror_coalesces_and_upserts(tmp_path: Path) -> None:
    sessions = _db(tmp_path)
    mirror = DbMirror(sessions)
    mirror.start()
    base = {"kind": "test", "trigger": "kubectl", "created_at": NOW, "queued_at": NOW}
    mirror.submit("r1", {**base, "phase": "Queued"})
    mirror.submit("r1", {"phase": "Starting", "attempts": 1})
    mirror.submit("r1", {"phase": "Running"})
    await mirror.flush(10)
    mirror.submit("r1", {"phase": "Passed", "passed": 3})
    await mirror.close()
    with session_scope(sessions) as session:
        row = session.get(RunRecord, "r1")
        assert row is not None
        assert (row.phase, row.attempts, row.passed, row.trigger) == ("Passed", 1, 3, "kubectl")


class _Results:
    """The store's side of the mirror: results.json documents by run id, and how often each was read."""

    def __init__(self, documents: dict[str, dict[str, object]]) -> None:
        self.documents = documents
        self.reads: list[tuple[str, str]] = []

    def read(self, run_id: str, kind: str) -> dict[str, object] | None:
        self.reads.append((run_id, kind))
        return self.documents.get(run_id)


_RESULTS = {
    "suites": [
        {
            "title": "a.spec.js",
            "file": "a.spec.js",
            "specs": [
                {
                    "title": "retried",
                    "file": "a.spec.js",
                    "tests": [
                        {
                            "projectName": "chromium",
                            "status": "flaky",
                            "results": [
                                {"status": "failed", "retry": 0, "duration": 30, "errors": [{"message": "boom"}]},
                                {"status": "passed", "retry": 1, "duration": 20, "errors": []},
                            ],
                        }
                    ],
                }
            ],
        }
    ]
}


async def test_mirror_records_a_finished_runs_test_results_once(tmp_path: Path) -> None:
    from supertest.db import test_results

    sessions = _db(tmp_path)
    results = _Results({"r1": _RESULTS})
    mirror = DbMirror(sessions, results)
    mirror.start()
    base = {"kind": "job", "trigger": "kubectl", "created_at": NOW, "queued_at": NOW}
    mirror.submit("r1", {**base, "phase": "Running"})
    await mirror.flush(10)
    assert results.reads == []  # not before the run is over
    done = {**base, "phase": "Passed", "flaky": 1, "report_url": "/api/test-results/r1/report/index.html"}
    mirror.submit("r1", done)
    await mirror.flush(10)
    mirror.submit("r1", {**done, "message": "again"})  # a later status write of the same finished run
    await mirror.flush(10)
    mirror.submit("r2", {**base, "phase": "Error"})  # no artifacts stored: nothing to read
    await mirror.close()
    assert results.reads == [("r1", "job")]
    with session_scope(sessions) as session:
        rows = test_results.for_run(session, "r1")
        assert [(r.test_id, r.status, r.duration_ms, r.retries, r.error_head) for r in rows] == [
            ("a.spec.js > retried", "flaky", 50, 1, "boom")
        ]


async def test_job_ref_resolves_a_stored_job_in_order(tmp_path: Path) -> None:
    import pytest
    from supertest_operator.scripts import ScriptsUnavailable, resolve

    from supertest.db import catalog
    from supertest.kube.models import JobRunSpec

    sessions = _db(tmp_path)
    with session_scope(sessions) as session:
        login = catalog.create_test(session, "Log in!", "a", "typescript", [])
        search = catalog.create_test(session, "search", "b", "javascript", [])
        job_id = catalog.create_job(session, "smoke", "", None, "UTC", [search.id, login.id]).id
    files = await resolve(JobRunSpec.model_validate({"jobRef": job_id}), sessions)
    assert [(f.file_name, f.content) for f in files] == [("01-search.spec.js", "b"), ("02-Log-in.spec.ts", "a")]
    with pytest.raises(ScriptsUnavailable, match="names no TestJob in the run's namespace"):
        await resolve(JobRunSpec.model_validate({"jobRef": "nope"}), sessions)
    with pytest.raises(ScriptsUnavailable, match="DATABASE_URL"):
        await resolve(JobRunSpec.model_validate({"jobRef": job_id}), None)
    spec = JobRunSpec.model_validate({"tests": [{"name": "first", "testId": login.id}, {"name": "x", "script": "c"}]})
    files = await resolve(spec, sessions)
    assert [(f.file_name, f.content) for f in files] == [("01-first.spec.ts", "a"), ("02-x.spec.js", "c")]
    with pytest.raises(ScriptsUnavailable, match="names no stored test"):
        await resolve(JobRunSpec.model_validate({"tests": [{"name": "gone", "testId": "missing"}]}), sessions)


async def test_a_results_file_that_cannot_be_recorded_never_holds_back_the_run_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from supertest_operator import db_mirror

    def unrecordable(*_args: object) -> None:
        raise ValueError("a results.json the recorder cannot take")

    monkeypatch.setattr(db_mirror, "record_results", unrecordable)
    sessions = _db(tmp_path)
    mirror = DbMirror(sessions, _Results({"r1": _RESULTS}))
    mirror.start()
    base = {"kind": "test", "trigger": "kubectl", "created_at": NOW, "queued_at": NOW}
    mirror.submit("r1", {**base, "phase": "Passed", "report_url": "/api/test-results/r1/report/index.html"})
    await mirror.close()
    with session_scope(sessions) as session:
        assert session.get(RunRecord, "r1").phase == "Passed"
