"""runs: the Idempotency-Key a submission came with, scoped per API key, and a hash of its request

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_scope", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
        # NULLs never collide (SQLite and Postgres alike): runs submitted without a key stay unconstrained.
        batch_op.create_unique_constraint("uq_runs_idempotency", ["idempotency_scope", "idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_constraint("uq_runs_idempotency", type_="unique")
        for column in ("request_hash", "idempotency_key", "idempotency_scope"):
            batch_op.drop_column(column)
