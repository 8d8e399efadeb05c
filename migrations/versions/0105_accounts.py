"""accounts: users, projects (with limits), memberships, api_tokens, audit_log; proj_ids become projects

Access by bearer token, scoped by project; every existing proj_id becomes a project, datasets
and models join the project that uses them.

Revision ID: 0105
Revises: 0104
Create Date: 2026-12-02 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0105"
down_revision: str | None = "0104"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
ROLES = ("train_data", "val_data", "test_data")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_running", sa.Integer(), nullable=True),
        sa.Column("max_gpus", sa.Integer(), nullable=True),
    )
    op.create_table(
        "memberships",
        sa.Column("project_id", sa.String(200), sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_memberships_user", "memberships", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("projects", JSON, nullable=True),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_tokens_user", "api_tokens", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_name", sa.String(100), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(200), nullable=True),
        sa.Column("target", sa.String(300), nullable=True),
        sa.Column("client", sa.String(100), nullable=True),
    )
    op.create_index("ix_audit_project_at", "audit_log", ["project_id", "at"])
    op.create_index("ix_audit_at", "audit_log", ["at"])
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("project_id", sa.String(200), nullable=True))
        batch.create_foreign_key("fk_datasets_project", "projects", ["project_id"], ["id"])
    with op.batch_alter_table("served_models") as batch:
        batch.add_column(sa.Column("project_id", sa.String(200), nullable=True))
        batch.create_foreign_key("fk_served_models_project", "projects", ["project_id"], ["id"])
    _migrate_rows()


def _migrate_rows() -> None:
    """Each distinct proj_id of the tasks becomes a project (named by its latest proj_name).
    A dataset that tasks of exactly one project name joins that project; one named by several
    projects, or by none, stays shared (nobody loses what they used). A model deployed from a
    task joins the task's project; uploads stay shared."""
    conn = op.get_bind()
    now = sa.func.now()
    names: dict[str, str] = {}
    users_of: dict[str, set[str]] = {}
    for proj_id, proj_name, form in conn.execute(
            sa.text("SELECT proj_id, proj_name, form FROM tasks ORDER BY created_at")):
        names[proj_id] = proj_name or proj_id
        form = form if isinstance(form, dict) else _json(form)
        for role in ROLES:
            for dataset in form.get(role) or []:
                users_of.setdefault(dataset, set()).add(proj_id)
    projects = sa.table("projects", sa.column("id"), sa.column("name"), sa.column("created_at"))
    for proj_id, name in names.items():
        conn.execute(projects.insert().values(id=proj_id, name=name[:200], created_at=now))
    for dataset, used_by in users_of.items():
        if len(used_by) == 1:
            conn.execute(sa.text("UPDATE datasets SET project_id = :p WHERE name = :n"),
                         {"p": next(iter(used_by)), "n": dataset})
    conn.execute(sa.text("UPDATE served_models SET project_id = (SELECT proj_id FROM tasks "
                         "WHERE tasks.id = served_models.source_task_id) WHERE source_task_id IS NOT NULL"))


def _json(raw):  # noqa: ANN001, ANN202 - SQLite hands JSON back as text
    import json

    return json.loads(raw) if raw else {}


def downgrade() -> None:
    with op.batch_alter_table("served_models") as batch:
        batch.drop_constraint("fk_served_models_project", type_="foreignkey")
        batch.drop_column("project_id")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_constraint("fk_datasets_project", type_="foreignkey")
        batch.drop_column("project_id")
    op.drop_table("audit_log")
    op.drop_table("api_tokens")
    op.drop_table("memberships")
    op.drop_table("projects")
    op.drop_table("users")
