"""A task's ancestry: the subjects each ancestor recorded using (``result.splits.lineage``).

Walks ``parent_task_id`` from the given task upward. Functions take a session, never commit.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dao.tables import Task

MAX_DEPTH = 1000  # a guard against a cycle no code path can make


def ancestor_records(session: Session, task_id: str | None,
                     key: str = "lineage") -> list[tuple[str, dict | None]]:
    """(task id, its lineage record) for ``task_id`` and each of its ancestors, nearest first.
    A task whose result has no record (older tasks, unfinished ones) gives None. ``key``: which
    record of ``result.splits`` ("lineage_groups": the groups it used per role; "checksums":
    {dataset name: checksum})."""
    out: list[tuple[str, dict | None]] = []
    seen: set[str] = set()
    while task_id is not None and task_id not in seen and len(out) < MAX_DEPTH:
        seen.add(task_id)
        row = session.execute(select(Task.parent_task_id, Task.result).where(Task.id == task_id)).first()
        if row is None:
            break
        splits = (row.result or {}).get("splits") or {}
        out.append((task_id, splits.get(key)))
        task_id = row.parent_task_id
    return out
