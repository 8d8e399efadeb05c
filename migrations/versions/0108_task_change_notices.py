"""PostgreSQL: NOTIFY trainyard_task_changed with the task id whenever a task row or its epochs
change, so API processes can keep poll views until the task really changes (dao.poll_cache).
SQLite has no NOTIFY; there the poll always reads.

Revision ID: 0108
Revises: 0107
Create Date: 2026-12-02 18:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0108"
down_revision: str | None = "0107"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The channel's name is dao.poll_cache.CHANNEL; a migration keeps its own copy of what it wrote.
FUNCTION = """
CREATE OR REPLACE FUNCTION trainyard_task_changed() RETURNS trigger AS $$
DECLARE
    changed record;
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    IF TG_TABLE_NAME = 'tasks' THEN
        PERFORM pg_notify('trainyard_task_changed', changed.id);
    ELSE
        PERFORM pg_notify('trainyard_task_changed', changed.task_id);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute("CREATE TRIGGER tasks_changed AFTER INSERT OR UPDATE OR DELETE ON tasks "
               "FOR EACH ROW EXECUTE FUNCTION trainyard_task_changed()")
    op.execute("CREATE TRIGGER task_epochs_changed AFTER INSERT OR UPDATE OR DELETE ON task_epochs "
               "FOR EACH ROW EXECUTE FUNCTION trainyard_task_changed()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS task_epochs_changed ON task_epochs")
    op.execute("DROP TRIGGER IF EXISTS tasks_changed ON tasks")
    op.execute("DROP FUNCTION IF EXISTS trainyard_task_changed()")
