"""drop the index on tasks.parent_task_id: nothing queries by parent, and every submit paid for it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 03:45:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.drop_index("ix_tasks_parent")


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.create_index("ix_tasks_parent", ["parent_task_id"])
