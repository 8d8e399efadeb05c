"""The audit log: one row per accepted change. Functions take the session and never commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dao.tables import AuditEntry

_INSERT = insert(AuditEntry.__table__)


def add_entries(session: Session, entries: list[dict[str, Any]]) -> None:
    """One Core executemany on the session's connection: the ORM's unit of work per row, or its
    bulk-insert path, cost more than the request being audited."""
    if entries:
        session.connection().execute(_INSERT, entries)


def list_entries(session: Session, projects: frozenset[str] | None, *, project: str | None = None,
                 action: str | None = None, before_id: int | None = None, limit: int = 100) -> list[AuditEntry]:
    """Newest first. ``projects``: only entries of these projects (None: every entry, including
    those of no project, such as token changes)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if projects is not None:
        stmt = stmt.where(AuditEntry.project_id.in_(sorted(projects)))
    if project is not None:
        stmt = stmt.where(AuditEntry.project_id == project)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return list(session.scalars(stmt))
