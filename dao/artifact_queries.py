"""Blobs a task produced (weights, checkpoints, pictures): their bytes in the blob store
(dao.blobs), their metadata in ``task_artifacts``. Rows written before the store keep their bytes
in the row until ``start.sh move-blobs``; every reader here serves both."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from dao import blobs
from dao.tables import TaskArtifact


WEIGHTS = "weights"
BEST_WEIGHTS = "best_weights"
CHECKPOINT = "checkpoint"
BEST_CHECKPOINT = "checkpoint_best"  # the training state at the best epoch, for a resume
RESUME_CHECKPOINTS = (CHECKPOINT, BEST_CHECKPOINT)  # what only a resume reads
EPOCH_CHECKPOINT_PREFIX = "checkpoint_epoch_"  # + the epoch: every save_period checkpoint, kept


def epoch_checkpoint_kind(epoch: int) -> str:
    return f"{EPOCH_CHECKPOINT_PREFIX}{int(epoch)}"


def save_artifact(session: Session, task_id: str, kind: str, data: bytes, *,
                  content_type: str = "application/octet-stream", epoch: int | None = None) -> None:
    """Store ``data`` as the task's ``kind`` (replacing an earlier one, whose object goes once
    this transaction commits)."""
    stored = blobs.put(session, f"tasks/{task_id}/{kind}", data, content_type)
    row = session.get(TaskArtifact, (task_id, kind))
    if row is None:
        row = TaskArtifact(task_id=task_id, kind=kind)
        session.add(row)
    else:
        blobs.release(session, row.blob_key)
    row.content_type, row.size, row.sha256, row.epoch = content_type, stored.size, stored.sha256, epoch
    row.blob_key, row.in_row = stored.key, None
    session.flush()


def delete_artifacts(session: Session, task_id: str, kinds: tuple[str, ...]) -> list[str]:
    """Delete these artifacts of the task (their objects go once the transaction commits);
    the kinds that were there."""
    rows = session.scalars(select(TaskArtifact).where(TaskArtifact.task_id == task_id,
                                                      TaskArtifact.kind.in_(kinds))).all()
    for row in rows:
        blobs.release(session, row.blob_key)
        session.delete(row)
    session.flush()
    return [row.kind for row in rows]


def data(row: TaskArtifact) -> bytes:
    """The artifact's bytes (read within the session that loaded ``row``)."""
    return blobs.read(row.blob_key, row.in_row)


def local_file(row: TaskArtifact) -> contextlib.AbstractContextManager[BinaryIO]:
    """The artifact's bytes as a seekable local file while the block runs (``dao.blobs.local_file``;
    ``in_row`` loaded when the row keeps its bytes)."""
    return blobs.local_file(row.blob_key, row.in_row)


def chunks(row: TaskArtifact) -> Iterator[bytes] | bytes:
    """The artifact's bytes for a response: streamed from the store, or the row's own bytes. The
    stream needs no session."""
    return blobs.chunks(row.blob_key, row.in_row)


def presigned_url(row: TaskArtifact, seconds: int, **answer: str | None) -> str | None:
    """Where a client may GET the artifact's bytes itself for ``seconds``, or None (see
    ``dao.blobs.presigned_url``)."""
    return blobs.presigned_url(row.blob_key, seconds, **answer)


def get_artifact(session: Session, task_id: str, kind: str, *,
                 with_data: bool = True) -> TaskArtifact | None:
    stmt = select(TaskArtifact).where(TaskArtifact.task_id == task_id, TaskArtifact.kind == kind)
    if with_data:
        stmt = stmt.options(undefer(TaskArtifact.in_row))
    return session.scalars(stmt).first()


def list_artifacts(session: Session, task_id: str) -> list[TaskArtifact]:
    return list(session.scalars(
        select(TaskArtifact).where(TaskArtifact.task_id == task_id).order_by(TaskArtifact.kind)
    ))


def get_model(session: Session, task_id: str) -> bytes | None:
    """The trained weights blob of a task (the original's ``get_model``), None if it has none."""
    row = get_artifact(session, task_id, WEIGHTS)
    return None if row is None else data(row)


def epoch_checkpoints(session: Session, task_id: str) -> list[TaskArtifact]:
    """The kept per-epoch checkpoints of a task (metadata only), by epoch."""
    rows = session.scalars(select(TaskArtifact).where(
        TaskArtifact.task_id == task_id, TaskArtifact.kind.startswith(EPOCH_CHECKPOINT_PREFIX)))
    return sorted(rows, key=lambda r: r.epoch or 0)
