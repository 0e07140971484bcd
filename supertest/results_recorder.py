"""A finished run's results.json -> its test_results rows, in both modes (the local dispatcher and the operator's
database mirror call this once the run is terminal and its artifacts are stored). Idempotent: the run's rows are
replaced whole, so recording a run again never duplicates them."""

from __future__ import annotations

import json
from typing import Any

import structlog
from sqlalchemy.orm import Session

from supertest.artifacts import ArtifactNotFound, ArtifactStore, InvalidArtifactPath, create_store, results_key
from supertest.db import test_results
from supertest.settings import CoreSettings
from supertest.testresults import parse_test_results

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


def record(session: Session, run_id: str, document: dict[str, Any] | None) -> int:
    """Replace the run's rows with those of `document` (no document: no rows). Returns the row count."""
    rows = parse_test_results(document, test_results.quarantined_ids(session)) if document else []
    return test_results.replace_for_run(session, run_id, rows)


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
