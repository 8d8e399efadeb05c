"""task_artifacts.blob_key: a task's weights, checkpoints and pictures are bytes in the blob store
(blobstore/, TRAINYARD_ARTIFACT_URL); the row keeps their metadata. ``data`` becomes nullable: rows
written before keep their bytes there until ``start.sh move-blobs`` (dao.move_blobs) moves them,
and are read from the row meanwhile.

Revision ID: 0111
Revises: 0110
Create Date: 2026-12-06 17:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0111"
down_revision: str | None = "0110"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task_artifacts") as batch_op:
        batch_op.add_column(sa.Column("blob_key", sa.String(512), nullable=True))
        batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    moved = op.get_bind().execute(sa.text("SELECT count(*) FROM task_artifacts WHERE blob_key IS NOT NULL")).scalar()
    if moved:
        raise RuntimeError(f"{moved} task artifacts are in the blob store, not in their rows: "
                           "a downgrade past 0111 would lose them")
    with op.batch_alter_table("task_artifacts") as batch_op:
        batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("blob_key")
