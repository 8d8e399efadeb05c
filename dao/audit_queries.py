"""The audit log: one row per accepted change. Functions take the session and never commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dao.tables import AuditEntry


def add_entries(session: Session, entries: list[dict[str, Any]]) -> None:
    """One multi-row INSERT (the ORM's unit of work per row cost more than the request itself)."""
    if entries:
        session.execute(insert(AuditEntry), entries)


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
