"""The task a fine-tune or an evaluation starts from, for both backends: it exists where the caller
may see it, trained this backend's kind of model, finished, and kept its weights. Whether its
model fits the new task's data is the backend's own check, made by the caller."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.auth.submit import visible_task
from contracts.statuses import TaskStatus
from dao import artifact_queries
from dao.tables import Task

Problems = list[tuple[str, str]]
_USE = {"dl_ft": "fine-tuned", "dl_ev": "evaluated"}


def usable_parent(session: Session, parent_id: str, *, field: str, backend: str,
                  task_type: str) -> tuple[Task | None, Problems]:
    """The parent row and no problem, or None and the one problem (named ``field``). A task
    of a project the caller may not see reads exactly as one that does not exist."""
    parent = visible_task(session, parent_id)
    if parent is None:
        return None, [(field, f"task {parent_id!r} does not exist")]
    if parent.backend != backend:
        return None, [(field, f"task {parent_id!r} trained a {parent.backend} model, not a {backend} one")]
    if parent.status != TaskStatus.SUCCEEDED.value:
        return None, [(field, f"task {parent_id!r} is {parent.status}; only a SUCCEEDED task's model can be "
                              f"{_USE.get(task_type, 'used')}")]
    if artifact_queries.get_artifact(session, parent_id, artifact_queries.WEIGHTS, with_data=False) is None:
        return None, [(field, f"task {parent_id!r} stored no model weights")]
    return parent, []
