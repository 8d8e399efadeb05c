"""PostgreSQL: NOTIFY trainyard_task_changed with the task id whenever what the light poll shows
of a task changes (a column it reads, or the task's epochs), so API processes can keep poll
views until then (dao.poll_cache). Not on INSERT (a new task has no kept view) nor on writes of
other columns alone (heartbeats, publishing, leases): every notifying commit takes PostgreSQL's
notify-queue lock, so those would serialise the busiest writes. SQLite has no NOTIFY; there the
poll always reads.

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


# The tasks columns the light view reads (dao.task_queries._poll_statement; a test compares them).
VIEW_COLUMNS = ("id", "proj_id", "status", "task_type", "model", "backend", "queue", "attempt", "epochs_total",
                "epochs_done", "error", "waiting_reason", "created_at", "started_at", "finished_at", "sweep_id",
                "form", "result")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    old = ", ".join(f"OLD.{c}" for c in VIEW_COLUMNS)
    new = ", ".join(f"NEW.{c}" for c in VIEW_COLUMNS)
    op.execute(f"CREATE TRIGGER tasks_changed AFTER UPDATE ON tasks FOR EACH ROW "
               f"WHEN (ROW({old}) IS DISTINCT FROM ROW({new})) EXECUTE FUNCTION trainyard_task_changed()")
    op.execute("CREATE TRIGGER tasks_deleted AFTER DELETE ON tasks "
               "FOR EACH ROW EXECUTE FUNCTION trainyard_task_changed()")
    op.execute("CREATE TRIGGER task_epochs_changed AFTER INSERT OR UPDATE OR DELETE ON task_epochs "
               "FOR EACH ROW EXECUTE FUNCTION trainyard_task_changed()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS task_epochs_changed ON task_epochs")
    op.execute("DROP TRIGGER IF EXISTS tasks_deleted ON tasks")
    op.execute("DROP TRIGGER IF EXISTS tasks_changed ON tasks")
    op.execute("DROP FUNCTION IF EXISTS trainyard_task_changed()")
