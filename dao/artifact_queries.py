"""Blobs a task produced (weights, checkpoints, pictures), stored in the database."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from dao.tables import TaskArtifact

WEIGHTS = "weights"
BEST_WEIGHTS = "best_weights"
CHECKPOINT = "checkpoint"
EPOCH_CHECKPOINT_PREFIX = "checkpoint_epoch_"  # + the epoch: every save_period checkpoint, kept


def epoch_checkpoint_kind(epoch: int) -> str:
    return f"{EPOCH_CHECKPOINT_PREFIX}{int(epoch)}"


def save_artifact(session: Session, task_id: str, kind: str, data: bytes, *,
                  content_type: str = "application/octet-stream", epoch: int | None = None) -> None:
    row = session.get(TaskArtifact, (task_id, kind))
    digest = hashlib.sha256(data).hexdigest()
    if row is None:
        row = TaskArtifact(task_id=task_id, kind=kind)
        session.add(row)
    row.content_type, row.size, row.sha256, row.epoch, row.data = (
        content_type, len(data), digest, epoch, data)
    session.flush()


def get_artifact(session: Session, task_id: str, kind: str, *,
                 with_data: bool = True) -> TaskArtifact | None:
    stmt = select(TaskArtifact).where(TaskArtifact.task_id == task_id, TaskArtifact.kind == kind)
    if with_data:
        stmt = stmt.options(undefer(TaskArtifact.data))
    return session.scalars(stmt).first()


def list_artifacts(session: Session, task_id: str) -> list[TaskArtifact]:
    return list(session.scalars(
        select(TaskArtifact).where(TaskArtifact.task_id == task_id).order_by(TaskArtifact.kind)
    ))


def get_model(session: Session, task_id: str) -> bytes | None:
    """The trained weights blob of a task (the original's ``get_model``), None if it has none."""
    row = get_artifact(session, task_id, WEIGHTS)
    return None if row is None else row.data


def epoch_checkpoints(session: Session, task_id: str) -> list[TaskArtifact]:
    """The kept per-epoch checkpoints of a task (metadata only), by epoch."""
    rows = session.scalars(select(TaskArtifact).where(
        TaskArtifact.task_id == task_id, TaskArtifact.kind.startswith(EPOCH_CHECKPOINT_PREFIX)))
    return sorted(rows, key=lambda r: r.epoch or 0)
