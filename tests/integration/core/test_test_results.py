"""Per-test rows on real databases (SQLite and Postgres) from a results.json in a real store (folder and S3):
written once per run whatever the repeats, read back as medians, and removed with their run by retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from supertest.artifacts import ArtifactStore, results_key
from supertest.db import runs as run_repo
from supertest.db import test_results
from supertest.db.engine import session_scope
from supertest.db.models import QuarantinedTestRecord, RunRecord
from supertest.results_recorder import read_results, record
from supertest.testresults import TestResultRow

MIXED = (Path(__file__).parents[2] / "unit" / "core" / "data" / "results_mixed.json").read_bytes()
T0 = datetime(2026, 11, 30, tzinfo=UTC)


def add_run(sessions: sessionmaker[Session], run_id: str, completed: datetime | None = None) -> None:
    with session_scope(sessions) as s:
        s.add(RunRecord(id=run_id, kind="test", phase="Passed", title=run_id, completed_at=completed or T0))


def put_results(store: ArtifactStore, run_id: str, data: bytes, tmp_path: Path) -> None:
    path = tmp_path / f"{run_id}.json"
    path.write_bytes(data)
    store.put_file(results_key(run_id), path, "application/json")


def test_rows_from_the_stored_results_once_however_often_recorded(
    sessions: sessionmaker[Session], store: ArtifactStore, tmp_path: Path
):
    add_run(sessions, "run-a")
    put_results(store, "run-a", MIXED, tmp_path)
    with session_scope(sessions) as s:
        s.add(QuarantinedTestRecord(test_id="mixed.spec.js > always fails", reason="known bug", by="ci"))
    for _ in range(3):  # a re-mirror, an operator restart: the same rows, not three times as many
        with session_scope(sessions) as s:
            assert record(s, "run-a", read_results(store, "run-a")) == 5
    with session_scope(sessions) as s:
        rows = {r.test_id: (r.status, r.retries, r.project) for r in test_results.for_run(s, "run-a")}
    assert rows == {
        "mixed.spec.js > always fails": ("quarantined", 1, "chromium"),
        "mixed.spec.js > times out": ("timedOut", 1, "chromium"),
        "mixed.spec.js > is skipped": ("skipped", 0, "chromium"),
        "mixed.spec.js > cart > flaky on the first attempt": ("flaky", 1, "chromium"),
        "mixed.spec.js > cart > passes": ("passed", 0, "chromium"),
    }


def test_a_run_without_results_gets_no_rows(sessions: sessionmaker[Session], store: ArtifactStore, tmp_path: Path):
    add_run(sessions, "run-none")
    add_run(sessions, "run-junk")
    put_results(store, "run-junk", b"not json", tmp_path)
    assert read_results(store, "run-none") is None
    assert read_results(store, "run-junk") is None
    with session_scope(sessions) as s:
        assert record(s, "run-none", None) == 0
        assert test_results.count_for_run(s, "run-none") == 0


def row(test_id: str, ms: int, status: str = "passed") -> TestResultRow:
    file = test_id.split(" > ", 1)[0]
    return TestResultRow(test_id, file, test_id, "chromium", status, ms, 0, None)  # type: ignore[arg-type]


def test_median_durations_by_test_and_by_file_over_the_newest_runs(sessions: sessionmaker[Session]):
    now = datetime.now(UTC)
    durations = [10_000, 100, 300, 200]  # oldest first: the oldest run (10 s) falls out of a last_n=3 window
    with session_scope(sessions) as s:
        for i, ms in enumerate(durations):
            run_id = f"run-{i}"
            s.add(RunRecord(id=run_id, kind="test", phase="Passed", title=run_id))
            s.flush()
            at = now - timedelta(hours=len(durations) - i)
            rows = [row("a.spec.js > one", ms), row("a.spec.js > two", 50), row("b.spec.js > skip", 0, "skipped")]
            test_results.replace_for_run(s, run_id, rows, at=at)
        s.add(RunRecord(id="run-old", kind="test", phase="Passed", title="old"))
        s.flush()
        test_results.replace_for_run(s, "run-old", [row("a.spec.js > one", 99_999)], at=now - timedelta(days=30))
    with session_scope(sessions) as s:
        by_test = test_results.median_durations(s, ["a.spec.js > one", "a.spec.js > two", "b.spec.js > skip", "c"])
        by_test_3 = test_results.median_durations(s, ["a.spec.js > one"], last_n=3)
        by_file = test_results.median_durations(s, ["a.spec.js", "b.spec.js"], by="file")
    # 14-day window: the 30-day-old 99 999 ms never counts; skipped results and unknown keys give nothing.
    assert by_test == {"a.spec.js > one": 250.0, "a.spec.js > two": 50.0}
    assert by_test_3 == {"a.spec.js > one": 200.0}  # 100, 300, 200
    assert by_file == {"a.spec.js": 300.0}  # per run: 10 050, 150, 350, 250 -> median 300


def test_retention_removes_a_runs_rows_with_it(sessions: sessionmaker[Session]):
    with session_scope(sessions) as s:
        for run_id in ("kept", "expired"):
            s.add(RunRecord(id=run_id, kind="test", phase="Passed", title=run_id, completed_at=T0))
            s.flush()
            test_results.replace_for_run(s, run_id, [row("a.spec.js > one", 10)])
        s.get(RunRecord, "kept").completed_at = datetime.now(UTC)  # type: ignore[union-attr]
    with session_scope(sessions) as s:
        assert run_repo.delete_finished_before(s, T0 + timedelta(days=1)) == ["expired"]
    with session_scope(sessions) as s:
        assert test_results.count_for_run(s, "expired") == 0
        assert test_results.count_for_run(s, "kept") == 1


def test_the_auto_quarantine_rule_quarantines_a_flaky_test_when_results_are_recorded(
    sessions: sessionmaker[Session], store: ArtifactStore, tmp_path: Path
):
    from supertest.auto_quarantine import AUTO_QUARANTINE_BY, AutoQuarantineRule

    flaky = "mixed.spec.js > cart > flaky on the first attempt"
    rule = AutoQuarantineRule(flaky_rate=0.5, min_runs=3)
    for i in range(3):  # the mixed report has the test flaky in each run: 100% > 50%, after 3 runs
        run_id = f"run-auto-{i}"
        add_run(sessions, run_id)
        put_results(store, run_id, MIXED, tmp_path)
        document = read_results(store, run_id)
        with session_scope(sessions) as s:
            record(s, run_id, document, AutoQuarantineRule())  # off: never quarantines
            assert flaky not in test_results.quarantined_ids(s)
            record(s, run_id, document, rule)
            quarantined = test_results.quarantined_ids(s)
        assert (flaky in quarantined) is (i == 2), (i, quarantined)  # not before min_runs results
    with session_scope(sessions) as s:
        entry = s.get(QuarantinedTestRecord, flaky)
        assert entry is not None and entry.by == AUTO_QUARANTINE_BY
        assert entry.reason.startswith("auto: flaky rate 100%")
        # Only the flaky test: a failing one is not flaky, a passing one is healthy.
        assert test_results.quarantined_ids(s) == {flaky}
