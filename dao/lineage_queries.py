"""A task's ancestry: the subjects each ancestor recorded using (``result.splits.lineage``).

Walks ``parent_task_id`` from the given task upward. Functions take a session, never commit.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dao.tables import Task

MAX_DEPTH = 1000  # a guard against a cycle no code path can make


def ancestor_splits(session: Session, task_id: str | None) -> list[tuple[str, dict]]:
    """(task id, its ``result.splits``) for ``task_id`` and each of its ancestors, nearest first;
    {} for a task that recorded none (older tasks, unfinished ones)."""
    out: list[tuple[str, dict]] = []
    seen: set[str] = set()
    while task_id is not None and task_id not in seen and len(out) < MAX_DEPTH:
        seen.add(task_id)
        row = session.execute(select(Task.parent_task_id, Task.result).where(Task.id == task_id)).first()
        if row is None:
            break
        out.append((task_id, (row.result or {}).get("splits") or {}))
        task_id = row.parent_task_id
    return out


def ancestor_records(session: Session, task_id: str | None,
                     key: str = "lineage") -> list[tuple[str, dict | None]]:
    """(task id, one record of its splits) for ``task_id`` and each of its ancestors, nearest
    first; None where a task has no such record. ``key``: "lineage" (the subjects it used per
    role), "lineage_groups" (the groups), "checksums" ({dataset name: checksum})."""
    return [(t, splits.get(key)) for t, splits in ancestor_splits(session, task_id)]
