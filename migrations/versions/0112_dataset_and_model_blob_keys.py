"""datasets.blob_key and served_models.onnx_key: dataset archives and ONNX files are bytes in the
blob store (blobstore/, TRAINYARD_ARTIFACT_URL) like task artifacts (0111); ``datasets.data``
becomes nullable. Rows written before keep their bytes in the database until ``start.sh
move-blobs`` moves them, and are read from there meanwhile.

Revision ID: 0112
Revises: 0111
Create Date: 2026-12-06 17:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0112"
down_revision: str | None = "0111"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch_op:
        batch_op.add_column(sa.Column("blob_key", sa.String(512), nullable=True))
        batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=True)
    with op.batch_alter_table("served_models") as batch_op:
        batch_op.add_column(sa.Column("onnx_key", sa.String(512), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    for table, column in (("datasets", "blob_key"), ("served_models", "onnx_key")):
        moved = bind.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL")).scalar()
        if moved:
            raise RuntimeError(f"{moved} rows of {table} keep their bytes in the blob store: "
                               "a downgrade past 0112 would lose them")
    with op.batch_alter_table("served_models") as batch_op:
        batch_op.drop_column("onnx_key")
    with op.batch_alter_table("datasets") as batch_op:
        batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("blob_key")
