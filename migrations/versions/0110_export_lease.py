"""served_models.exporter and export_heartbeat_at: the worker exporting a model and its last
heartbeat, so the reaper re-sends the export of a worker that died in the middle of it (the
message it held comes back only after the broker's visibility timeout, 12 hours).

Revision ID: 0110
Revises: 0109
Create Date: 2026-12-06 17:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0110"
down_revision: str | None = "0109"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("served_models") as batch_op:
        batch_op.add_column(sa.Column("exporter", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("export_heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("served_models") as batch_op:
        batch_op.drop_column("export_heartbeat_at")
        batch_op.drop_column("exporter")
