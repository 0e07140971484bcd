"""A finished run's results.json -> its test_results rows, in both modes (the local dispatcher and the operator's
database mirror call this once the run is terminal and its artifacts are stored). Idempotent: the run's rows are
replaced whole, so recording a run again never duplicates them."""

from __future__ import annotations

import json
from typing import Any

import structlog
from sqlalchemy.orm import Session

from supertest.artifacts import ArtifactNotFound, ArtifactStore, InvalidArtifactPath, create_store, results_key
from supertest.auto_quarantine import AUTO_QUARANTINE_BY, AutoQuarantineRule, to_quarantine
from supertest.db import test_results
from supertest.settings import CoreSettings
from supertest.testresults import health, parse_test_results

log = structlog.get_logger("supertest.results")


def read_results(store: ArtifactStore, run_id: str) -> dict[str, Any] | None:
    """The run's results.json, or None if it has none (an Error before Playwright ran) or it is not JSON."""
    try:
        raw = store.read_bytes(results_key(run_id))
    except (ArtifactNotFound, InvalidArtifactPath):
        return None
    try:
        document = json.loads(raw)
    except ValueError:
        log.warning("results_unreadable", run=run_id)
        return None
    return document if isinstance(document, dict) else None


def record(
    session: Session, run_id: str, document: dict[str, Any] | None, rule: AutoQuarantineRule | None = None
) -> int:
    """Replace the run's rows with those of `document` (no document: no rows), then apply the automatic
    quarantine rule to the run's tests (in the same transaction). Returns the row count."""
    quarantined = test_results.quarantined_ids(session)
    rows = parse_test_results(document, quarantined) if document else []
    count = test_results.replace_for_run(session, run_id, rows)
    if rule is not None and rule.enabled and rows:
        points = test_results.window_points(
            session, rule.window_results, rule.window_days, test_ids=sorted({r.test_id for r in rows})
        )
        for item in to_quarantine(rule, (health(t, p) for t, p in points.items()), quarantined):
            test_results.put_quarantine(session, item.test_id, item.reason, AUTO_QUARANTINE_BY)
            log.info("test_auto_quarantined", run=run_id, test=item.test_id, reason=item.reason)
    return count


class ResultsReader:
    """Reads a run's results.json from the store of its kind (tests and jobs may have their own buckets)."""

    def __init__(self, settings: CoreSettings) -> None:
        self._settings = settings
        self._stores: dict[str, ArtifactStore] = {}

    def read(self, run_id: str, kind: str) -> dict[str, Any] | None:
        kind = "job" if kind == "job" else "test"
        store = self._stores.get(kind)
        if store is None:
            store = self._stores[kind] = create_store(self._settings, kind)
        return read_results(store, run_id)
