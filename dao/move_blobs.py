"""Moving task artifacts' bytes out of their rows into the blob store (``start.sh move-blobs``).

Idempotent and resumable: each row is moved in its own transaction, and only while it still holds
its bytes (a compare-and-set), so a second run, or one that races the first, moves nothing twice;
a run that stops half-way leaves moved rows moved and the others readable from their rows. The
service keeps working meanwhile: every reader serves both kinds of row (dao.artifact_queries)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dao import blobs
from dao.db import session_scope
from dao.tables import TaskArtifact

log = logging.getLogger(__name__)


@dataclass
class Moved:
    rows: int = 0
    bytes: int = 0
    skipped: int = 0  # moved or rewritten by someone else meanwhile


def move_task_artifacts(batch: int = 50) -> Moved:
    """Move every task artifact still held in its row; returns what was moved."""
    moved = Moved()
    while True:
        with session_scope() as session:
            pending = session.execute(select(TaskArtifact.task_id, TaskArtifact.kind).where(
                TaskArtifact.blob_key.is_(None), TaskArtifact.in_row.is_not(None)).limit(batch)).all()
        if not pending:
            return moved
        for task_id, kind in pending:
            with session_scope() as session:
                size = _move_one(session, task_id, kind)
            if size is None:
                moved.skipped += 1
            else:
                moved.rows, moved.bytes = moved.rows + 1, moved.bytes + size
                log.info("moved %s/%s (%d bytes)", task_id, kind, size)


def _move_one(session: Session, task_id: str, kind: str) -> int | None:
    row = session.get(TaskArtifact, (task_id, kind))
    if row is None or row.blob_key is not None or row.in_row is None:
        return None
    stored = blobs.put(session, f"tasks/{task_id}/{kind}", row.in_row, row.content_type)
    if stored.sha256 != row.sha256:
        raise RuntimeError(f"{task_id}/{kind}: its bytes do not match the sha256 its row records")
    done = session.execute(
        update(TaskArtifact)
        .where(TaskArtifact.task_id == task_id, TaskArtifact.kind == kind, TaskArtifact.blob_key.is_(None),
               TaskArtifact.sha256 == stored.sha256)
        .values(blob_key=stored.key, in_row=None)
        .execution_options(synchronize_session=False)).rowcount
    if not done:
        session.rollback()  # the object written above goes with it (dao.blobs)
        return None
    return stored.size
