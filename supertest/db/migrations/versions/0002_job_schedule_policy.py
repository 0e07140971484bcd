"""job schedule policy: concurrency, starting deadline, suspend, history limits, last schedule time

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("concurrency_policy", sa.String(length=16), nullable=False, server_default="Allow"))
        batch_op.add_column(sa.Column("starting_deadline_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("suspend", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(
            sa.Column("successful_runs_history_limit", sa.Integer(), nullable=False, server_default="3")
        )
        batch_op.add_column(sa.Column("failed_runs_history_limit", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("last_schedule_time", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        for column in (
            "last_schedule_time",
            "failed_runs_history_limit",
            "successful_runs_history_limit",
            "suspend",
            "starting_deadline_seconds",
            "concurrency_policy",
        ):
            batch_op.drop_column(column)
