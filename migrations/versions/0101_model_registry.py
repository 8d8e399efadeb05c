"""served_models, serving_processes: the model registry (deployed tasks, uploaded ONNX files) and the serving processes that load it

Revision ID: 0101
Revises: 0004
Create Date: 2026-12-01 20:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0101"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "served_models",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("source_task_id", sa.String(length=40),
                  sa.ForeignKey("tasks.id", ondelete="SET NULL"), nullable=True),
        sa.Column("source_filename", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("onnx_location", sa.String(length=300), nullable=True),
        sa.Column("onnx_size", sa.BigInteger(), nullable=True),
        sa.Column("onnx_sha256", sa.String(length=64), nullable=True),
        sa.Column("onnx", sa.LargeBinary(), nullable=True),
        sa.Column("contract", JSON, nullable=False),
        sa.Column("verification", JSON, nullable=True),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("max_batch_delay_ms", sa.Float(), nullable=False),
        sa.Column("min_worker", sa.Integer(), nullable=False),
        sa.Column("max_worker", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_served_models_name_version"),
    )


    op.create_table(
        "serving_processes",
        sa.Column("name", sa.String(length=200), primary_key=True),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("models", JSON, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("serving_processes")
    op.drop_table("served_models")
