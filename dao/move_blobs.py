"""Moving bytes kept in database rows (task artifacts, datasets, ONNX files) into the blob store
(``start.sh move-blobs``).

Idempotent and resumable: each row is moved in its own transaction, and only while it still holds
its bytes (a compare-and-set), so a second run, or one that races the first, moves nothing twice;
a run that stops half-way leaves moved rows moved and the others readable from their rows. The
service keeps working meanwhile: every reader serves both kinds of row (dao.artifact_queries,
dao.dataset_queries, dao.model_queries). Each kind is walked once in key order (keyset pages),
so a row left behind (rewritten meanwhile) is counted as skipped, not tried forever."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session, undefer

from contracts.statuses import DatasetStatus
from dao import blobs
from dao.db import session_scope
from dao.tables import Dataset, ServedModel, TaskArtifact

log = logging.getLogger(__name__)


@dataclass
class Moved:
    rows: int = 0
    bytes: int = 0
    skipped: int = 0  # moved or rewritten by someone else meanwhile


def _move_each(page: Callable[[Session, Any], list], move_one: Callable[[Session, Any], int | None],
               what: str, batch: int) -> Moved:
    """``page(session, after)``: up to ``batch`` ids of rows still to move, in key order after
    ``after`` (None: from the start); ``move_one`` moves one in its own transaction."""
    moved, after = Moved(), None
    while True:
        with session_scope() as session:
            ids = page(session, after)[:batch]
        if not ids:
            return moved
        for ident in ids:
            with session_scope() as session:
                size = move_one(session, ident)
            if size is None:
                moved.skipped += 1
            else:
                moved.rows, moved.bytes = moved.rows + 1, moved.bytes + size
                log.info("moved %s %s (%d bytes)", what, ident, size)
        after = ids[-1]


def move_task_artifacts(batch: int = 50) -> Moved:
    """Move every task artifact still held in its row; returns what was moved."""
    def page(session: Session, after: Any) -> list:
        key = tuple_(TaskArtifact.task_id, TaskArtifact.kind)
        stmt = select(TaskArtifact.task_id, TaskArtifact.kind).where(
            TaskArtifact.blob_key.is_(None), TaskArtifact.in_row.is_not(None)).order_by(*key.clauses).limit(batch)
        return [tuple(r) for r in session.execute(stmt if after is None else stmt.where(key > tuple_(*after)))]

    return _move_each(page, lambda session, ident: _move_one(session, *ident), "task artifact", batch)


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


def move_datasets(batch: int = 50) -> Moved:
    """Move every dataset still held in its row (REJECTED ones hold no bytes worth keeping:
    left as they are); returns what was moved."""
    def page(session: Session, after: Any) -> list:
        return list(session.scalars(select(Dataset.name).where(
            Dataset.name > (after or ""), Dataset.blob_key.is_(None), Dataset.in_row.is_not(None),
            Dataset.status != DatasetStatus.REJECTED.value).order_by(Dataset.name).limit(batch)))

    return _move_each(page, _move_dataset, "dataset", batch)


def _move_dataset(session: Session, name: str) -> int | None:
    from dao.dataset_queries import CONTENT_TYPE, blob_prefix

    row = session.get(Dataset, name)
    if row is None or row.blob_key is not None:
        return None
    data, checksum = row.in_row, row.checksum
    if data is None:
        return None
    stored = blobs.put(session, blob_prefix(name), data, CONTENT_TYPE)
    if stored.size != len(data):
        raise RuntimeError(f"dataset {name}: {stored.size} bytes stored of the row's {len(data)}")
    # ``checksum`` is the dataset's content checksum (not always the bytes' sha256): unchanged
    # means nobody rewrote the row meanwhile (the MXNet worker's READY changes it).
    done = session.execute(
        update(Dataset)
        .where(Dataset.name == name, Dataset.blob_key.is_(None), Dataset.checksum == checksum)
        .values(blob_key=stored.key, in_row=None, size=stored.size)
        .execution_options(synchronize_session=False)).rowcount
    if not done:
        session.rollback()  # the object written above goes with it (dao.blobs)
        return None
    return stored.size


def move_served_models(batch: int = 50) -> Moved:
    """Move every served model's ONNX file still held in its row; returns what was moved."""
    def page(session: Session, after: Any) -> list:
        return list(session.scalars(select(ServedModel.id).where(
            ServedModel.id > (after or 0), ServedModel.onnx_key.is_(None), ServedModel.onnx.is_not(None))
            .order_by(ServedModel.id).limit(batch)))

    return _move_each(page, _move_served_model, "served model", batch)


def _move_served_model(session: Session, model_id: int) -> int | None:
    row = session.scalars(select(ServedModel).where(ServedModel.id == model_id)
                          .options(undefer(ServedModel.onnx))).first()
    if row is None or row.onnx_key is not None or row.onnx is None:
        return None
    stored = blobs.put(session, f"models/{model_id}", row.onnx, "application/octet-stream")
    if stored.sha256 != row.onnx_sha256:
        raise RuntimeError(f"served model {model_id}: its bytes do not match the sha256 its row records")
    done = session.execute(
        update(ServedModel)
        .where(ServedModel.id == model_id, ServedModel.onnx_key.is_(None),
               ServedModel.onnx_sha256 == stored.sha256)
        # the same file: updated_at (what serving processes watch) stays, nothing reloads
        .values(onnx_key=stored.key, onnx=None, onnx_location=f"blob:{stored.key}",
                updated_at=ServedModel.updated_at)
        .execution_options(synchronize_session=False)).rowcount
    if not done:
        session.rollback()  # the object written above goes with it (dao.blobs)
        return None
    return stored.size
