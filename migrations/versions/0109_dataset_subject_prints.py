"""datasets.subject_prints: each connectome subject's content fingerprint (a hash of the rounded
matrix and features, and a sample of its upper triangle; models.datasets.fingerprints), so a task
is refused when it would test on a copy of a subject it or its ancestors trained on. Null for
images and for datasets uploaded before: the API computes theirs from the stored arrays.

Revision ID: 0109
Revises: 0108
Create Date: 2026-12-03 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0109"
down_revision: str | None = "0108"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch_op:
        batch_op.add_column(sa.Column("subject_prints", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch_op:
        batch_op.drop_column("subject_prints")
