"""Per-epoch metrics of a task."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from dao.db import plain_rows
from dao.tables import TaskEpoch


def record_epoch(session: Session, task_id: str, epoch: int, attempt: int,
                 metrics: dict[str, Any]) -> None:
    """Insert or replace the row of one epoch (a resumed attempt may redo an epoch)."""
    existing = session.get(TaskEpoch, (task_id, epoch))
    if existing is None:
        session.add(TaskEpoch(task_id=task_id, epoch=epoch, attempt=attempt, metrics=metrics))
    else:
        existing.attempt = attempt
        existing.metrics = metrics
    session.flush()


def list_epochs(session: Session, task_id: str) -> list[TaskEpoch]:
    return list(session.scalars(
        select(TaskEpoch).where(TaskEpoch.task_id == task_id).order_by(TaskEpoch.epoch)
    ))


def latest_epoch(session: Session, task_id: str) -> TaskEpoch | None:
    return session.scalars(
        select(TaskEpoch).where(TaskEpoch.task_id == task_id)
        .order_by(TaskEpoch.epoch.desc()).limit(1)
    ).first()


def drop_epochs_after(session: Session, task_id: str, epoch: int) -> None:
    """Forget epochs past a checkpoint that a resumed attempt will redo."""
    session.execute(delete(TaskEpoch).where(TaskEpoch.task_id == task_id, TaskEpoch.epoch > epoch))


def recent_epochs(session: Session, task_id: str, n: int = 6) -> list[TaskEpoch]:
    """The last ``n`` epochs of a task, newest first."""
    return list(session.scalars(
        select(TaskEpoch).where(TaskEpoch.task_id == task_id).order_by(TaskEpoch.epoch.desc()).limit(n)
    ))


_RECENT = (select(TaskEpoch.epoch, TaskEpoch.attempt, TaskEpoch.metrics, TaskEpoch.created_at)
           .where(TaskEpoch.task_id == bindparam("task_id"))
           .order_by(TaskEpoch.epoch.desc()).limit(bindparam("n")))


def recent_epoch_rows(conn, task_id: str, n: int = 6) -> list:  # noqa: ANN001 - session or connection
    """``recent_epochs`` as plain rows (the same attribute names), from one prebuilt statement."""
    return plain_rows(conn, _RECENT, {"task_id": task_id, "n": n})


EPOCHS_PER_READ = 500
_AFTER = (select(TaskEpoch.epoch, TaskEpoch.attempt, TaskEpoch.metrics)
          .where(TaskEpoch.task_id == bindparam("task_id"),
                 (TaskEpoch.epoch > bindparam("epoch")) | (TaskEpoch.attempt > bindparam("attempt")))
          .order_by(TaskEpoch.epoch).limit(EPOCHS_PER_READ))


def epochs_after(conn, task_id: str, attempt: int, epoch: int) -> list:  # noqa: ANN001
    """The epochs a client that has seen up to (attempt, epoch) has not: later epochs, and
    epochs a later attempt redid. At most EPOCHS_PER_READ at a time, oldest first."""
    return plain_rows(conn, _AFTER, {"task_id": task_id, "attempt": attempt, "epoch": epoch})
