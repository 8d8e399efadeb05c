"""queue position index covers the task id: polls of queued tasks count with an index range

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:20:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.drop_index("ix_tasks_status_queue_created")
        batch_op.create_index("ix_tasks_status_queue_created_id", ["status", "queue", "created_at", "id"])


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.drop_index("ix_tasks_status_queue_created_id")
        batch_op.create_index("ix_tasks_status_queue_created", ["status", "queue", "created_at"])
