"""jobs: the TestJob a job is (k8s_namespace, k8s_name) and a GitOps TestJob's tests (inline_tests)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("k8s_namespace", sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column("k8s_name", sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column("inline_tests", sa.JSON(), nullable=True))
        batch_op.create_unique_constraint("uq_jobs_k8s_resource", ["k8s_namespace", "k8s_name"])


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint("uq_jobs_k8s_resource", type_="unique")
        for column in ("inline_tests", "k8s_name", "k8s_namespace"):
            batch_op.drop_column(column)
