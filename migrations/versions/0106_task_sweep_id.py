"""tasks.sweep_id: the tasks of one hyper-parameter search (trainyard sweep), listed together

Revision ID: 0106
Revises: 0105
Create Date: 2026-12-02 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0106"
down_revision: str | None = "0105"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.add_column(sa.Column("sweep_id", sa.String(64), nullable=True))
        batch_op.create_index("ix_tasks_sweep", ["sweep_id"])


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.drop_index("ix_tasks_sweep")
        batch_op.drop_column("sweep_id")
