"""notification channels, rules, outbox and delivery attempts; variables and secrets; job-scoped API keys;
a run's failed tests; a TestJob's spec.notify

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_channels",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secret_token", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "notification_rules",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "channel_id", sa.String(32), sa.ForeignKey("notification_channels.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=True),
        sa.Column("test_id", sa.String(32), sa.ForeignKey("tests.id", ondelete="CASCADE"), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("failure_threshold", sa.Integer(), nullable=False),
        sa.Column("max_alerts_per_streak", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("channel_id", "job_id", "test_id"):
        op.create_index(f"ix_notification_rules_{column}", "notification_rules", [column])
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("run_id", sa.String(63), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "channel_id", sa.String(32), sa.ForeignKey("notification_channels.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_notification_outbox_run_id", "notification_outbox", ["run_id"])
    op.create_index("ix_outbox_due", "notification_outbox", ["status", "next_attempt_at"])
    op.create_table(
        "notification_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "outbox_id", sa.String(32), sa.ForeignKey("notification_outbox.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )
    op.create_index("ix_notification_attempts_outbox_id", "notification_attempts", ["outbox_id"])
    op.create_table(
        "variables",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("ciphertext", sa.Text(), nullable=True),
        sa.Column("k8s_secret", sa.String(253), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("scope", "name", name="uq_variables_scope_name"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("job_id", sa.String(32), nullable=True))
        batch_op.create_foreign_key("fk_api_keys_job_id", "jobs", ["job_id"], ["id"], ondelete="CASCADE")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failures", sa.JSON(), nullable=True))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notify", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("notify")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("failures")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint("fk_api_keys_job_id", type_="foreignkey")
        batch_op.drop_column("job_id")
    op.drop_table("variables")
    op.drop_table("notification_attempts")
    op.drop_table("notification_outbox")
    op.drop_table("notification_rules")
    op.drop_table("notification_channels")
