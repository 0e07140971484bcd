"""Prometheus metrics of the operator (module-level: one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RUNS_QUEUED = Gauge("supertest_runs_queued", "Runs waiting for a running slot")
RUNS_RUNNING = Gauge("supertest_runs_running", "Runs holding a running slot (Starting/Running or a live pod)")
RUNS_ADMITTED = Counter("supertest_runs_admitted_total", "Runs admitted into a pod")
RUN_PHASE = Counter("supertest_run_phase_total", "Phase transitions written by the operator", ["phase"])
ADMISSION_LATENCY = Histogram(
    "supertest_admission_latency_seconds",
    "From the run's creation to its pod being created",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)
EVENTS_PENDING = Gauge("supertest_events_pending", "Kubernetes Events waiting to be posted")
EVENTS_DROPPED = Counter(
    "supertest_events_dropped_total", "Kubernetes Events dropped because too many were waiting to be posted"
)
WEBHOOK_DENIED = Counter("supertest_webhook_denied_total", "Run creations denied because the queue is full")
RETENTION_DELETED = Counter("supertest_retention_deleted_total", "Objects removed by retention", ["store"])
ORPHANS_DELETED = Counter("supertest_orphans_deleted_total", "Orphaned children removed", ["kind"])
SCHEDULED_RUNS = Counter("supertest_scheduled_runs_total", "JobRuns created by TestJob schedules")
SCHEDULE_MISSED = Counter("supertest_schedule_missed_ticks_total", "TestJob ticks not run (deadline, downtime)")
SCHEDULE_SKIPPED = Counter(
    "supertest_schedule_skipped_ticks_total", "TestJob ticks skipped by concurrencyPolicy Forbid"
)
