"""Listing tasks: filters, newest-first keyset pages, and sorting by a result metric."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Select, and_, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.orm import Session

from dao.tables import Task

MAX_OFFSET = 1_000_000


class BadCursor(ValueError):
    """The cursor was not produced by this listing (or was altered)."""


@dataclass(frozen=True)
class TaskFilter:
    proj_id: str | None = None
    status: str | None = None
    model: str | None = None
    task_type: str | None = None
    sweep_id: str | None = None
    dataset: str | None = None  # named in any role: train, val or test
    parent: str | None = None  # the task it fine-tunes or evaluates
    projects: frozenset[str] | None = None  # only these projects' tasks; None: every project


@dataclass(frozen=True)
class Page:
    tasks: list[Task]
    next_cursor: str | None


def _encode(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _decode(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("cursor is not valid") from exc
    if not isinstance(payload, dict):
        raise BadCursor("cursor is not valid")
    return payload


def _filtered(flt: TaskFilter) -> Select:
    stmt = select(Task)
    for column, value in (
        (Task.proj_id, flt.proj_id), (Task.status, flt.status),
        (Task.model, flt.model), (Task.task_type, flt.task_type), (Task.sweep_id, flt.sweep_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if flt.projects is not None:
        stmt = stmt.where(Task.proj_id.in_(sorted(flt.projects)))
    if flt.parent is not None:
        stmt = stmt.where(Task.parent_task_id == flt.parent)
    if flt.dataset is not None:
        stmt = stmt.where(or_(*(_names(role, flt.dataset) for role in DATA_ROLES)))
    return stmt


DATA_ROLES = ("train_data", "val_data", "test_data")


def _names(role: str, dataset: str) -> "_NamesDataset":
    return _NamesDataset(role, dataset)


class _NamesDataset(ColumnElement):
    """The form's ``role`` list names the dataset: JSONB containment on PostgreSQL, a match
    in the list's JSON text elsewhere (SQLite)."""
    inherit_cache = True
    type = Boolean()

    def __init__(self, role: str, dataset: str):
        self.role, self.dataset = role, dataset


@compiles(_NamesDataset, "postgresql")
def _names_pg(node: _NamesDataset, compiler, **kw) -> str:  # noqa: ANN001
    expr = cast(Task.form, JSONB)[node.role].contains([node.dataset])
    return compiler.process(expr, **kw)


@compiles(_NamesDataset)
def _names_text(node: _NamesDataset, compiler, **kw) -> str:  # noqa: ANN001
    quoted = json.dumps(node.dataset).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    expr = func.json_extract(Task.form, f"$.{node.role}").like(literal(f"%{quoted}%"), escape="\\")
    return compiler.process(expr, **kw)


def list_tasks(session: Session, flt: TaskFilter, *, sort: str = "-created_at", limit: int = 50,
               cursor: str | None = None, sortable: Collection[str] = ()) -> Page:
    """``sortable``: the numeric result keys a listing may sort by besides created_at (the
    caller's: contracts.task_result.METRIC_FIELDS). Raises BadCursor, or ValueError for a sort
    key that is not allowed."""
    descending = sort.startswith("-")
    key = sort.lstrip("-+")
    if key == "created_at":
        return _by_created(session, _filtered(flt), descending, limit, cursor)
    if key not in sortable:
        raise ValueError(f"cannot sort by {sort!r} (sortable: created_at, {', '.join(sorted(sortable))})")
    return _by_metric(session, _filtered(flt), key, descending, limit, cursor)


def _by_created(session: Session, stmt: Select, descending: bool, limit: int,
                cursor: str | None) -> Page:
    if cursor:
        payload = _decode(cursor)
        try:
            created = dt.datetime.fromisoformat(payload["c"])
            last_id = str(payload["i"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BadCursor("cursor is not valid") from exc
        if descending:
            stmt = stmt.where(or_(Task.created_at < created,
                                  and_(Task.created_at == created, Task.id < last_id)))
        else:
            stmt = stmt.where(or_(Task.created_at > created,
                                  and_(Task.created_at == created, Task.id > last_id)))
    order = (Task.created_at.desc(), Task.id.desc()) if descending else (Task.created_at, Task.id)
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = _encode({"c": rows[-1].created_at.isoformat(), "i": rows[-1].id}) if more else None
    return Page(rows, nxt)


def _by_metric(session: Session, stmt: Select, key: str, descending: bool, limit: int,
               cursor: str | None) -> Page:
    # Offsets, not keysets, for metric sorts: finished tasks' results no longer change, so
    # pages stay stable, and it keeps NULLs-last ordering portable across SQLite/PostgreSQL.
    offset = 0
    if cursor:
        payload = _decode(cursor)
        offset = payload.get("o")
        if payload.get("k") != key or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
            raise BadCursor("cursor does not belong to this sort")
    value = Task.result[key].as_float()
    # A result measured on subjects its lineage had seen ranks after every clean one.
    seen = func.coalesce(Task.result["test_on_seen_subjects"].as_boolean(), False)
    order = (value.is_(None), seen, value.desc() if descending else value.asc(),
             Task.created_at.desc(), Task.id.desc())
    rows = list(session.scalars(stmt.order_by(*order).offset(offset).limit(limit + 1)))
    more = len(rows) > limit
    nxt = _encode({"k": key, "o": offset + limit}) if more else None
    return Page(rows[:limit], nxt)
