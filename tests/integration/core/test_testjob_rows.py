"""TestJobs mirrored into `jobs` (supertest.db.testjobs), on SQLite and on Postgres."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from supertest.db import catalog, migrate
from supertest.db import testjobs as rows
from supertest.db.engine import make_engine, session_scope
from supertest.db.models import JobRecord, JobTestRecord, RunRecord, utcnow


def mirror(**kw: object) -> rows.TestJobMirror:
    values: dict[str, object] = {
        "namespace": "team-a",
        "name": "checkout-synthetics",
        "job_id": None,
        "schedule": "*/5 * * * *",
        "time_zone": "Europe/Berlin",
        "concurrency_policy": "Forbid",
        "starting_deadline_seconds": 120,
        "suspend": False,
        "successful_runs_history_limit": 5,
        "failed_runs_history_limit": 2,
        "tests": [rows.TestJobTest("01-inline", "inline"), rows.TestJobTest("02-cm", "configMap")],
        "description": "from git",
    }
    values.update(kw)
    return rows.TestJobMirror(**values)  # type: ignore[arg-type]


def statements(sessions: sessionmaker[Session]) -> list[str]:
    """Collects the SQL the engine runs from now on (to prove an unchanged pass writes nothing)."""
    seen: list[str] = []
    engine = sessions.kw["bind"]

    @event.listens_for(engine, "before_cursor_execute")
    def _record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement.split()[0].upper())

    return seen


def test_gitops_job_id_is_deterministic_and_fits_the_column() -> None:
    a = rows.gitops_job_id("team-a", "x")
    assert a == rows.gitops_job_id("team-a", "x")
    assert a != rows.gitops_job_id("team-b", "x") != rows.gitops_job_id("team-a", "y")
    assert len(a) == 32 and a.startswith("gj")
    assert len(rows.gitops_job_id("n" * 63, "x" * 43)) == 32


def test_a_gitops_testjob_becomes_a_read_only_row_with_all_its_tests(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as s:
        login = catalog.create_test(s, "Log in", "test()", "typescript", [])
        login_id = login.id
    tick, nxt = utcnow() - timedelta(minutes=1), utcnow() + timedelta(minutes=4)
    tests = [
        rows.TestJobTest("01-search", "inline"),
        rows.TestJobTest("02-login", "stored", login_id),
        rows.TestJobTest("03-gone", "stored", "no-such-test"),
        rows.TestJobTest("04-cm", "configMap"),
    ]
    with session_scope(sessions) as s:
        job_id = rows.mirror_testjob(s, mirror(tests=tests, last_schedule_time=tick, last_run_at=tick, next_run_at=nxt))
    assert job_id == rows.gitops_job_id("team-a", "checkout-synthetics")
    with session_scope(sessions) as s:
        row = catalog.get_job(s, job_id)
        assert (row.managed_by, row.name, row.description) == ("gitops", "checkout-synthetics", "from git")
        assert (row.schedule, row.time_zone, row.concurrency_policy) == ("*/5 * * * *", "Europe/Berlin", "Forbid")
        assert (row.starting_deadline_seconds, row.suspend) == (120, False)
        assert (row.successful_runs_history_limit, row.failed_runs_history_limit) == (5, 2)
        assert (row.k8s_namespace, row.k8s_name) == ("team-a", "checkout-synthetics")
        assert (row.last_schedule_time, row.last_run_at, row.next_run_at) == (tick, tick, nxt)
        assert [jt.test_id for jt in row.tests] == [login_id]  # the dangling testId is listed, not linked
        assert row.inline_tests == [
            {"name": "01-search", "source": "inline"},
            {"name": "02-login", "source": "stored", "testId": login_id},
            {"name": "03-gone", "source": "stored", "testId": "no-such-test"},
            {"name": "04-cm", "source": "configMap"},
        ]
        assert rows.mirrored_testjobs(s) == [("team-a", "checkout-synthetics")]


def test_mirroring_is_idempotent_and_an_unchanged_pass_writes_nothing(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as s:
        stored = catalog.create_test(s, "A", "test()", "javascript", []).id
    state = mirror(
        tests=[rows.TestJobTest("01-a", "stored", stored), rows.TestJobTest("02-b", "inline")],
        next_run_at=utcnow() + timedelta(minutes=5),
    )
    with session_scope(sessions) as s:
        first = rows.mirror_testjob(s, state)
    with session_scope(sessions) as s:
        updated_at = catalog.get_job(s, first).updated_at
    seen = statements(sessions)
    with session_scope(sessions) as s:
        assert rows.mirror_testjob(s, state) == first
    assert not {"INSERT", "UPDATE", "DELETE"} & set(seen), seen
    with session_scope(sessions) as s:
        assert len(list(s.execute(select(JobRecord)).scalars())) == 1
        assert catalog.get_job(s, first).updated_at == updated_at

    # A change in git: new schedule, tests reordered and one dropped.
    changed = replace(state, schedule="0 * * * *", suspend=True, tests=[rows.TestJobTest("02-b", "inline")])
    with session_scope(sessions) as s:
        rows.mirror_testjob(s, changed)
    with session_scope(sessions) as s:
        row = catalog.get_job(s, first)
        assert (row.schedule, row.suspend, row.tests, row.inline_tests) == (
            "0 * * * *",
            True,
            [],
            [{"name": "02-b", "source": "inline"}],
        )
        assert row.updated_at > updated_at


def test_an_api_testjob_only_updates_the_bookkeeping_of_the_api_row(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as s:
        test_id = catalog.create_test(s, "A", "test()", "javascript", []).id
        job = catalog.create_job(s, "Nightly", "mine", "0 3 * * *", "UTC", [test_id])
        job_id, created_tick = job.id, utcnow() - timedelta(hours=1)
        job.last_schedule_time = created_tick
    tick, nxt = utcnow(), utcnow() + timedelta(days=1)
    state = mirror(name="nightly-abc", job_id=job_id, schedule="*/1 * * * *", tests=[rows.TestJobTest("x", "inline")])
    with session_scope(sessions) as s:
        # An empty status (a TestJob not scheduled yet) never erases a known time.
        assert rows.mirror_testjob(s, state) == job_id
    with session_scope(sessions) as s:
        row = catalog.get_job(s, job_id)
        assert (row.managed_by, row.name, row.description, row.schedule) == ("api", "Nightly", "mine", "0 3 * * *")
        assert row.last_schedule_time == created_tick and row.last_run_at is None
        assert (row.k8s_namespace, row.k8s_name, row.inline_tests) == ("team-a", "nightly-abc", None)
        assert [jt.test_id for jt in row.tests] == [test_id]
    with session_scope(sessions) as s:
        rows.mirror_testjob(s, replace(state, last_schedule_time=tick, last_run_at=tick, next_run_at=nxt))
    with session_scope(sessions) as s:
        row = catalog.get_job(s, job_id)
        assert (row.last_schedule_time, row.last_run_at, row.next_run_at) == (tick, tick, nxt)
        assert rows.mirrored_testjobs(s) == []  # API rows are the API's to clean up

    # The TestJob is deleted: the API row stays, unlinked.
    with session_scope(sessions) as s:
        rows.forget_testjob(s, "team-a", "nightly-abc")
    with session_scope(sessions) as s:
        row = catalog.get_job(s, job_id)
        assert (row.managed_by, row.k8s_namespace, row.k8s_name) == ("api", None, None)


def test_an_api_row_claims_its_testjob_from_a_stale_gitops_row(sessions: sessionmaker[Session]) -> None:
    """A pass that ran before the API committed its row mirrored the TestJob as GitOps; the next pass fixes it."""
    with session_scope(sessions) as s:
        stray = rows.mirror_testjob(s, mirror(name="nightly-abc", job_id="not-yet-committed"))
        job = catalog.create_job(s, "Nightly", "", "0 3 * * *", "UTC", [])
        job_id = job.id
    assert stray == rows.gitops_job_id("team-a", "nightly-abc")
    with session_scope(sessions) as s:
        assert rows.mirror_testjob(s, mirror(name="nightly-abc", job_id=job_id)) == job_id
    with session_scope(sessions) as s:
        assert s.get(JobRecord, stray) is None
        assert catalog.get_job(s, job_id).k8s_name == "nightly-abc"
        # Found again by the resource it records, even without the annotation.
        assert rows.mirror_testjob(s, mirror(name="nightly-abc", job_id=None)) == job_id


def test_a_job_id_annotation_naming_no_api_row_is_gitops(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as s:
        job_id = rows.mirror_testjob(s, mirror(job_id="deleted-long-ago"))
        assert catalog.get_job(s, job_id).managed_by == "gitops"
        # Nor does a GitOps row become the API's because an annotation names it.
        assert rows.mirror_testjob(s, mirror(name="other", job_id=job_id)) == rows.gitops_job_id("team-a", "other")


def test_forgetting_deletes_the_gitops_row_and_keeps_its_runs(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as s:
        keep = rows.mirror_testjob(s, mirror(name="keep"))
        gone = rows.mirror_testjob(s, mirror(name="gone", namespace="team-b"))
        s.add(RunRecord(id="jr-gone-1", kind="job", phase="Passed", job_id=gone, spec={}))
    with session_scope(sessions) as s:
        assert rows.mirrored_testjobs(s) == [("team-a", "keep"), ("team-b", "gone")]
        rows.forget_testjob(s, "team-b", "gone")
        rows.forget_testjob(s, "team-b", "never-existed")
    with session_scope(sessions) as s:
        assert s.get(JobRecord, gone) is None and s.get(JobRecord, keep) is not None
        assert rows.mirrored_testjobs(s) == [("team-a", "keep")]
        run = s.get(RunRecord, "jr-gone-1")
        assert run is not None and run.job_id is None
        assert list(s.execute(select(JobTestRecord).where(JobTestRecord.job_id == gone)).scalars()) == []


def test_the_same_name_in_two_namespaces_is_two_jobs(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as s:
        a = rows.mirror_testjob(s, mirror(namespace="a"))
        b = rows.mirror_testjob(s, mirror(namespace="b"))
    assert a != b
    with session_scope(sessions) as s:
        assert rows.mirrored_testjobs(s) == [("a", "checkout-synthetics"), ("b", "checkout-synthetics")]


@pytest.mark.parametrize("source", ["inline", "configMap"])
def test_test_entries_keep_their_source(sessions: sessionmaker[Session], source: str) -> None:
    with session_scope(sessions) as s:
        job_id = rows.mirror_testjob(s, mirror(tests=[rows.TestJobTest("01-x", source)]))  # type: ignore[arg-type]
        assert catalog.get_job(s, job_id).inline_tests == [{"name": "01-x", "source": source}]


def test_migration_0003_downgrades_and_upgrades_again(db_url: str) -> None:
    migrate.downgrade(db_url, "0002")
    engine = make_engine(db_url)
    try:
        assert not {"k8s_namespace", "k8s_name", "inline_tests"} & {
            c["name"] for c in inspect(engine).get_columns("jobs")
        }
        migrate.upgrade(db_url)
        assert migrate.is_up_to_date(engine)
    finally:
        engine.dispose()
