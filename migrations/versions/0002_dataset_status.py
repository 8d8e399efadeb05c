"""datasets.status: image uploads are validated by the MXNet worker after they are stored

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:30:00
"""
from collections.abc import Sequence

from alembic import op
import sqlalchemy as sa

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows that exist already were validated on upload: READY.
    with op.batch_alter_table('datasets') as batch:
        batch.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='READY'))


def downgrade() -> None:
    with op.batch_alter_table('datasets') as batch:
        batch.drop_column('status')
