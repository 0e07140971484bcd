"""Per-test results of every run (flakiness, health, shard balancing) and quarantined tests

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "test_results",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(63), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("test_id", sa.String(1024), nullable=False),
        sa.Column("file", sa.String(512), nullable=False),
        sa.Column("title", sa.String(512), nullable=False),
        sa.Column("project", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("error_head", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('passed', 'failed', 'flaky', 'skipped', 'timedOut', 'quarantined')",
            name="ck_test_results_status",
        ),
    )
    op.create_index("ix_test_results_run_id", "test_results", ["run_id"])
    op.create_index("ix_test_results_test_created", "test_results", ["test_id", "created_at"])
    with op.batch_alter_table("runs") as batch_op:
        batch_op.add_column(sa.Column("quarantined", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "quarantined_tests",
        sa.Column("test_id", sa.String(1024), primary_key=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("quarantined_tests")
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_column("quarantined")
    op.drop_index("ix_test_results_test_created", table_name="test_results")
    op.drop_index("ix_test_results_run_id", table_name="test_results")
    op.drop_table("test_results")
