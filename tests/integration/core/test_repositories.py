from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError

from supertest.admission import QueueFull
from supertest.db import apikeys, catalog
from supertest.db import runs as run_repo
from supertest.db.engine import make_engine, make_session_factory, session_scope
from supertest.db.ids import new_run_id
from supertest.db.migrate import head_revision, is_up_to_date
from supertest.db.models import RunRecord, utcnow
from supertest.events import Summary
from supertest.phases import IllegalTransition, Phase


def new_run(**kw) -> RunRecord:
    return RunRecord(**{"id": new_run_id("test"), "kind": "test", "phase": "Queued", "spec": {"scripts": []}, **kw})


def test_migrations_reach_head(db_url):
    engine = make_engine(db_url)
    assert is_up_to_date(engine)
    assert head_revision() == "0007"
    tables = {"tests", "jobs", "job_tests", "runs", "api_keys", "ui_sessions", "test_results", "quarantined_tests"}
    assert tables <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_run_lifecycle_is_recorded(sessions):
    with session_scope(sessions) as s:
        run_id = run_repo.enqueue(s, new_run(title="t"), queued_capacity=5).id
    with session_scope(sessions) as s:
        run_repo.apply_phase(s, run_id, run_repo.PhaseUpdate(Phase.STARTING))
        run_repo.apply_phase(s, run_id, run_repo.PhaseUpdate(Phase.RUNNING))
        done = utcnow() + timedelta(seconds=2)
        summary = Summary(total=3, passed=2, failed=1, flaky=0, skipped=0, duration_ms=1900)
        run_repo.apply_phase(s, run_id, run_repo.PhaseUpdate(Phase.FAILED, "1 failed", at=done, summary=summary))
    with session_scope(sessions) as s:
        row = run_repo.get(s, run_id)
        assert (row.phase, row.total, row.passed, row.failed, row.attempts) == ("Failed", 3, 2, 1, 1)
        assert row.completed_at is not None and row.completed_at.tzinfo is not None
        assert row.duration_ms is not None and row.duration_ms >= 1900


def test_illegal_transition_is_rejected_and_not_stored(sessions):
    with session_scope(sessions) as s:
        run_id = run_repo.enqueue(s, new_run(), queued_capacity=5).id
    with pytest.raises(IllegalTransition), session_scope(sessions) as s:
        run_repo.apply_phase(s, run_id, run_repo.PhaseUpdate(Phase.PASSED))
    with session_scope(sessions) as s:
        assert run_repo.get(s, run_id).phase == "Queued"


def test_unknown_run_raises_not_found(sessions):
    with pytest.raises(run_repo.RunNotFound, match="nope"), session_scope(sessions) as s:
        run_repo.get(s, "nope")


def test_concurrent_enqueue_never_exceeds_queued_capacity(sessions):
    def attempt(_: int) -> bool:
        try:
            with session_scope(sessions) as s:
                run_repo.enqueue(s, new_run(), queued_capacity=7)
            return True
        except QueueFull:
            return False

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(attempt, range(40)))
    assert results.count(True) == 7
    with session_scope(sessions) as s:
        assert run_repo.count_in_phases(s, [Phase.QUEUED]) == 7


def test_a_burst_of_100_fills_a_queue_of_10_exactly_and_says_why_to_the_rest(sessions):
    """The brief of issue #15: 100 concurrent submissions against QUEUED_CAPACITY=10, on 50 threads."""
    with session_scope(sessions) as s:
        s.add(new_run(phase="Running"))  # another phase: not in the queued count

    def attempt(_: int) -> RunRecord | QueueFull:
        try:
            with session_scope(sessions) as s:
                return run_repo.enqueue(s, new_run(title="burst"), queued_capacity=10)
        except QueueFull as exc:
            return exc

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(attempt, range(100)))
    accepted = [r for r in results if isinstance(r, RunRecord)]
    refused = [r for r in results if isinstance(r, QueueFull)]
    assert (len(accepted), len(refused)) == (10, 90)
    assert {(e.queued, e.capacity) for e in refused} == {(10, 10)}
    # What enqueue returns is what was stored, defaults included, and it is committed for everyone else.
    assert all(r.phase == "Queued" and r.attempts == 0 and r.created_at is not None for r in accepted)
    with session_scope(sessions) as s:
        assert run_repo.count_in_phases(s, [Phase.QUEUED]) == 10
        stored = {r.id: r for r in s.query(RunRecord).filter(RunRecord.title == "burst")}
        assert set(stored) == {r.id for r in accepted}
        one = accepted[0]
        assert (stored[one.id].spec, stored[one.id].queued_at) == (one.spec, one.queued_at)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_lost_connection_during_enqueue_is_sqlalchemys_operational_error(sessions, db_url):
    """Postgres enqueues on the driver's connection (SQLite keeps the ORM path); an outage must still look as the
    API expects (503)."""
    assert db_url.startswith("postgresql")
    s = sessions()
    try:
        pid = s.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with session_scope(sessions) as other:
            other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        with pytest.raises(OperationalError):  # from enqueue itself, not from a rollback after it
            run_repo.enqueue(s, new_run(), queued_capacity=10)
    finally:
        s.invalidate()  # the connection is dead: discard it without the rollback a close would try
    with session_scope(sessions) as s:
        assert run_repo.count_in_phases(s, [Phase.QUEUED]) == 0


def test_queued_candidates_follow_priority_then_fifo(sessions):
    ids = []
    base = utcnow()
    with session_scope(sessions) as s:
        for i, prio in enumerate([0, 5, 0, 5]):
            ids.append(run_repo.enqueue(s, new_run(priority=prio, queued_at=base + timedelta(seconds=i)), 10).id)
    with session_scope(sessions) as s:
        order = [c.run_id for c in run_repo.queued_candidates(s, 10)]
    assert order == [ids[1], ids[3], ids[0], ids[2]]


def test_upsert_is_idempotent(sessions):
    values = {"kind": "test", "phase": "Running", "trigger": "kubectl", "spec": {}}
    with session_scope(sessions) as s:
        run_repo.upsert(s, "tr-kubectl1", values)
    with session_scope(sessions) as s:
        run_repo.upsert(s, "tr-kubectl1", {**values, "phase": "Passed", "passed": 4})
        run_repo.upsert(s, "tr-kubectl1", {**values, "phase": "Passed", "passed": 4})
    with session_scope(sessions) as s:
        rows, total = run_repo.list_runs(s, run_repo.RunFilter(trigger="kubectl"))
        assert total == 1 and rows[0].phase == "Passed" and rows[0].passed == 4


def test_retention_deletes_in_batches(sessions):
    old = utcnow() - timedelta(days=40)
    with session_scope(sessions) as s:
        for _ in range(5):
            s.add(new_run(phase="Passed", completed_at=old))
        s.add(new_run())  # queued: never deleted by retention
    cutoff = utcnow() - timedelta(days=30)
    batches = []
    while True:
        with session_scope(sessions) as s:
            deleted = run_repo.delete_finished_before(s, cutoff, batch_size=2)
        if not deleted:
            break
        batches.append(len(deleted))
    assert batches == [2, 2, 1]
    with session_scope(sessions) as s:
        assert run_repo.list_runs(s, run_repo.RunFilter())[1] == 1


def test_catalog_keeps_job_test_order(sessions):
    with session_scope(sessions) as s:
        a = catalog.create_test(s, "A login", "test('a', () => {})", "javascript", ["smoke"])
        b = catalog.create_test(s, "B checkout", "test('b', () => {})", "typescript", [])
        job = catalog.create_job(s, "nightly", "", "0 3 * * *", "UTC", [b.id, a.id])
        job_id = job.id
    with session_scope(sessions) as s:
        job = catalog.get_job(s, job_id)
        assert [jt.test.title for jt in job.tests] == ["B checkout", "A login"]
        assert [t.title for t in catalog.list_tests(s, tag="smoke")] == ["A login"]
        assert [t.title for t in catalog.list_tests(s, query="checkout")] == ["B checkout"]
    with pytest.raises(catalog.NotFound), session_scope(sessions) as s:
        catalog.create_job(s, "bad", "", None, "UTC", ["missing"])


def test_api_keys_are_hashed_and_verifiable(sessions):
    with session_scope(sessions) as s:
        record, key = apikeys.create_key(s, "ci")
        key_id = record.id
        assert key not in (record.key_hash, record.prefix)
    with session_scope(sessions) as s:
        assert apikeys.verify_key(s, key) is not None
        assert apikeys.verify_key(s, key + "x") is None
        apikeys.revoke_key(s, key_id)
    with session_scope(sessions) as s:
        assert apikeys.verify_key(s, key) is None


def test_models_and_migrations_agree(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from supertest.db.models import Base

    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()


def keyed_run(scope: str, key: str, request_hash: str = "h") -> RunRecord:
    return new_run(idempotency_scope=scope, idempotency_key=key, request_hash=request_hash)


def test_an_idempotency_key_holds_one_run_per_scope(sessions):
    with session_scope(sessions) as s:
        first = run_repo.enqueue(s, keyed_run("key-a", "k"), queued_capacity=10).id
        run_repo.enqueue(s, keyed_run("key-b", "k"), queued_capacity=10)  # another API key: its own scope
        run_repo.enqueue(s, new_run(), queued_capacity=10)  # no key: never constrained
        run_repo.enqueue(s, new_run(), queued_capacity=10)
    with pytest.raises(run_repo.IdempotencyKeyTaken), session_scope(sessions) as s:
        run_repo.enqueue(s, keyed_run("key-a", "k"), queued_capacity=10)
    with session_scope(sessions) as s:
        assert run_repo.find_by_idempotency_key(s, "key-a", "k").id == first  # type: ignore[union-attr]
        assert run_repo.count_in_phases(s, [Phase.QUEUED]) == 4


def test_concurrent_submissions_with_one_key_store_one_run(sessions):
    def attempt(_: int) -> str:
        try:
            with session_scope(sessions) as s:
                return run_repo.enqueue(s, keyed_run("key-c", "same"), queued_capacity=100).id
        except run_repo.IdempotencyKeyTaken:
            return "taken"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(16)))
    assert results.count("taken") == 15
    with session_scope(sessions) as s:
        assert run_repo.count_in_phases(s, [Phase.QUEUED]) == 1


def test_migration_0004_downgrades_and_upgrades_again(db_url):
    from supertest.db import migrate

    before = make_engine(db_url)
    with session_scope(make_session_factory(before)) as s:
        run_repo.enqueue(s, keyed_run("key-d", "k"), queued_capacity=10)
    before.dispose()
    migrate.downgrade(db_url, "0003")
    engine = make_engine(db_url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("runs")}
        assert not {"idempotency_scope", "idempotency_key", "request_hash"} & columns
        migrate.upgrade(db_url)
        assert is_up_to_date(engine)
    finally:
        engine.dispose()


def test_the_operator_reads_the_phases_of_rows_it_may_have_to_mirror_again(sessions):
    """The orphan sweep compares finished resources with their rows (supertest_operator.handlers.orphans)."""
    from supertest_operator.handlers.orphans import row_phases, rows_behind

    with session_scope(sessions) as s:
        ids = [run_repo.enqueue(s, new_run(), 10).id for _ in range(3)]
    phases = row_phases(sessions, [*ids, "tr-never-mirrored"], chunk=2)
    assert phases == dict.fromkeys(ids, "Queued")
    finished = {ids[0]: "Passed", "tr-never-mirrored": "Failed"}
    assert rows_behind(finished, phases) == sorted([ids[0], "tr-never-mirrored"])
