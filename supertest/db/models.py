from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware on the way out on every backend; SQLite would otherwise return naive datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class TestRecord(Base):
    __tablename__ = "tests"
    __test__ = False  # not a pytest class

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    script: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16), default="javascript")
    tags: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class JobRecord(Base):
    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("k8s_namespace", "k8s_name", name="uq_jobs_k8s_resource"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    schedule: Mapped[str | None] = mapped_column(String(100), default=None)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    managed_by: Mapped[str] = mapped_column(String(16), default="api")
    concurrency_policy: Mapped[str] = mapped_column(String(16), default="Allow")
    starting_deadline_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    suspend: Mapped[bool] = mapped_column(default=False)
    successful_runs_history_limit: Mapped[int] = mapped_column(Integer, default=3)
    failed_runs_history_limit: Mapped[int] = mapped_column(Integer, default=1)
    # The newest tick a run was created for: the scheduler's idempotency key.
    last_schedule_time: Mapped[datetime | None] = mapped_column(default=None)
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    next_run_at: Mapped[datetime | None] = mapped_column(default=None)
    # The TestJob this job is (Kubernetes mode): written by the API for its scheduled jobs, or applied from git.
    k8s_namespace: Mapped[str | None] = mapped_column(String(63), default=None)
    k8s_name: Mapped[str | None] = mapped_column(String(63), default=None)
    # Every test of a GitOps TestJob, in order: {"name", "source": inline|configMap|stored, "testId"?}. Stored
    # tests that exist are also linked in job_tests; inline and ConfigMap scripts live only in the TestJob.
    inline_tests: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, default=None)
    # A TestJob's spec.notify: [{"channel", "events"?, "failureThreshold"?, "maxAlertsPerStreak"?}] (GitOps rules).
    notify: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    tests: Mapped[list[JobTestRecord]] = relationship(
        back_populates="job", order_by="JobTestRecord.position", cascade="all, delete-orphan", lazy="selectin"
    )


class JobTestRecord(Base):
    __tablename__ = "job_tests"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    test_id: Mapped[str] = mapped_column(ForeignKey("tests.id", ondelete="CASCADE"))

    job: Mapped[JobRecord] = relationship(back_populates="tests")
    test: Mapped[TestRecord] = relationship(lazy="joined")


class RunRecord(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_phase_queued", "phase", "priority", "queued_at"),
        Index("ix_runs_created", "created_at"),
        UniqueConstraint("idempotency_scope", "idempotency_key", name="uq_runs_idempotency"),
    )

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # test | job
    test_id: Mapped[str | None] = mapped_column(ForeignKey("tests.id", ondelete="SET NULL"), default=None)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), default=None)
    phase: Mapped[str] = mapped_column(String(16), index=True)
    trigger: Mapped[str] = mapped_column(String(16), default="api")  # manual | api | schedule | kubectl
    priority: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(200), default="")
    # What the runner needs: scripts, timeout, workers. Kept so a restarted dispatcher can still launch it.
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    total: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    flaky: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    report_key: Mapped[str | None] = mapped_column(String(255), default=None)
    report_url: Mapped[str | None] = mapped_column(String(255), default=None)
    message: Mapped[str | None] = mapped_column(Text, default=None)
    exit_code: Mapped[int | None] = mapped_column(Integer, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    namespace: Mapped[str | None] = mapped_column(String(63), default=None)
    k8s_uid: Mapped[str | None] = mapped_column(String(64), default=None)
    # An Idempotency-Key submission: the principal (API key id) it is scoped to, the key, and the request's hash.
    idempotency_scope: Mapped[str | None] = mapped_column(String(64), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    request_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    # The failed tests of a finished run: [{"test": "file > title", "error": first line}], for alerts.
    failures: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApiKeyRecord(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # A CI trigger key: it may only run this job and read its runs. None: a full key.
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), default=None)


class UiSessionRecord(Base):
    """One UI login. The signed cookie names it; logout sets revoked_at, so a copied cookie dies with it."""

    __tablename__ = "ui_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


# -- notifications, variables and secrets, job-scoped keys (issue 17) --------------------------------


class ChannelRecord(Base):
    """Where alerts go. `config` holds what may be shown; `secret_token` the Fernet-encrypted secret fields
    (an HMAC secret, a Slack webhook URL, an SMTP password), never returned by the API."""

    __tablename__ = "notification_channels"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # webhook | slack | email
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret_token: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RuleRecord(Base):
    """Which runs alert a channel: those of one job or one test, on some events, after N consecutive failures,
    at most K failure alerts per streak."""

    __tablename__ = "notification_rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("notification_channels.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), default=None, index=True)
    test_id: Mapped[str | None] = mapped_column(ForeignKey("tests.id", ondelete="CASCADE"), default=None, index=True)
    events: Mapped[list[str]] = mapped_column(default=list)  # failure | recovery | every_run | timeout_error
    failure_threshold: Mapped[int] = mapped_column(Integer, default=1)
    max_alerts_per_streak: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxRecord(Base):
    """One alert of one run to one channel, written in the transaction of the run's terminal transition."""

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # run id + channel id: a second terminal write of the same run (a restart replaying it) adds nothing.
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("notification_channels.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A sender's lease: no other sender takes the row before this time (a crash frees it when it passes).
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class DeliveryAttemptRecord(Base):
    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outbox_id: Mapped[str] = mapped_column(ForeignKey("notification_outbox.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class VariableRecord(Base):
    """A project-wide (scope "project") or per-job (scope = the job id) environment variable of runs.

    Plain variables keep `value`. Secrets keep only `ciphertext` (Fernet), or, in Kubernetes mode, the name of
    the k8s Secret holding the value (`k8s_secret`); the API never returns a secret's value."""

    __tablename__ = "variables"
    __table_args__ = (UniqueConstraint("scope", "name", name="uq_variables_scope_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), default=None)
    name: Mapped[str] = mapped_column(String(128))
    secret: Mapped[bool] = mapped_column(default=False)
    value: Mapped[str | None] = mapped_column(Text, default=None)
    ciphertext: Mapped[str | None] = mapped_column(Text, default=None)
    k8s_secret: Mapped[str | None] = mapped_column(String(253), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# -- per-test results, flakiness, quarantine (issue 16) -----------------------------------------

TEST_RESULT_STATUSES = ("passed", "failed", "flaky", "skipped", "timedOut", "quarantined")


class TestResultRecord(Base):
    """One test of one run, from the run's results.json. Deleted with its run (retention cascades)."""

    __tablename__ = "test_results"
    __test__ = False  # not a pytest class
    __table_args__ = (
        # "The last N results of this test": health and the shard planner's medians. Ascending, as a B-tree is
        # read backwards for ORDER BY created_at DESC at the same cost (and a DESC expression index would not
        # round-trip through Alembic's model/migration comparison).
        Index("ix_test_results_test_created", "test_id", "created_at"),
        CheckConstraint(
            "status IN ('passed', 'failed', 'flaky', 'skipped', 'timedOut', 'quarantined')",
            name="ck_test_results_status",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    # file + " > " + the title path (describe blocks, then the test's title): stable across runs.
    test_id: Mapped[str] = mapped_column(String(1024))
    file: Mapped[str] = mapped_column(String(512))
    title: Mapped[str] = mapped_column(String(512))
    project: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    error_head: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuarantinedTestRecord(Base):
    """A test whose failures are reported as `quarantined` and do not fail its run."""

    __tablename__ = "quarantined_tests"

    test_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
