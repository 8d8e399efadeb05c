"""Registered datasets: metadata rows; the canonical array blob in the blob store (dao.blobs).

A dataset's bytes live under ``blob_key`` (``datasets/<name-safe>/<uuid>``), written within the
transaction that names them; rows written before the store keep them in the ``data`` column
(``in_row``) until ``start.sh move-blobs`` (dao.move_blobs.move_datasets). Every reader here
serves both. ``size`` is the stored object's size (the storage quota sums it)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, undefer

from dao import blobs
from dao.errors import DatasetExists, DatasetInUse, DatasetNotFound
from dao.tables import Dataset
from contracts.statuses import DatasetStatus
from dao.task_queries import tasks_using_dataset

BLOB_PREFIX = "datasets"
CONTENT_TYPE = "application/octet-stream"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def blob_prefix(name: str) -> str:
    """``datasets/<segment>``: the name itself when it is a valid key segment, else a sanitized
    name with a short hash of the name (any name gives a valid, distinct segment)."""
    safe = _UNSAFE.sub("_", name).lstrip(".")[:80]
    if safe != name or not safe:
        safe = f"{safe or 'dataset'}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"
    return f"{BLOB_PREFIX}/{safe}"


def insert_dataset(session: Session, name: str, kind: str, meta: dict[str, Any], data: bytes | BinaryIO,
                   source_filename: str | None = None,
                   status: str = DatasetStatus.READY.value, project_id: str | None = None,
                   checksum: str | None = None, subject_prints: bytes | None = None) -> Dataset:
    """``data`` (bytes, or a binary file read from its current position in chunks) goes to the
    blob store, tied to this transaction; ``checksum`` defaults to ``meta["checksum"]``, else the
    stored bytes' sha256. Raises DatasetExists (before anything is stored)."""
    if session.get(Dataset, name) is not None:
        raise DatasetExists(name)
    stored = blobs.put(session, blob_prefix(name), data, CONTENT_TYPE)
    row = Dataset(name=name, kind=kind, meta=meta, in_row=None, blob_key=stored.key, size=stored.size,
                  checksum=checksum or meta.get("checksum") or stored.sha256,
                  source_filename=source_filename, status=status, project_id=project_id,
                  subject_prints=subject_prints)
    session.add(row)
    session.flush()
    return row


def insert_dataset_file(session: Session, name: str, kind: str, meta: dict[str, Any], fh: BinaryIO, size: int,
                        checksum: str | None = None, **columns: Any) -> Dataset:
    """insert_dataset with the blob streamed from the binary file ``fh`` into the store (this
    process never holds it whole). ``size``: what the caller measured (its quota check); the
    store's own count must agree. ``checksum``: the file's sha256 when the caller has it (it must
    then match what was stored), else the store's. ``columns``: as insert_dataset.
    Raises DatasetExists."""
    fh.seek(0)
    row = insert_dataset(session, name, kind, meta, fh, **columns)
    if row.size != size or (checksum is not None and row.checksum != checksum):
        raise RuntimeError(f"dataset {name}: the stored bytes ({row.size}, {row.checksum}) are not the "
                           f"file measured ({size}, {checksum})")
    return row


def get_dataset(session: Session, name: str) -> Dataset:
    """Metadata only. Raises DatasetNotFound."""
    row = session.get(Dataset, name)
    if row is None:
        raise DatasetNotFound(name)
    return row


def find_datasets(session: Session, names: list[str]) -> dict[str, Dataset]:
    rows = session.scalars(select(Dataset).where(Dataset.name.in_(names)))
    return {row.name: row for row in rows}


def list_datasets(session: Session) -> list[Dataset]:
    return list(session.scalars(select(Dataset).order_by(Dataset.name)))


def _with_bytes(session: Session, name: str) -> Dataset:
    row = session.scalars(
        select(Dataset).where(Dataset.name == name).options(undefer(Dataset.in_row))
    ).first()
    if row is None:
        raise DatasetNotFound(name)
    return row


def data(row: Dataset) -> bytes:
    """The dataset's bytes: from the store, or the row's own (rows written before the store;
    ``in_row`` loaded); b"" for a rejected dataset (no bytes kept)."""
    return blobs.read(row.blob_key, row.in_row) or b""


def get_data(session: Session, name: str) -> bytes:
    """The stored dataset blob (the original's ``get_data``). Raises DatasetNotFound."""
    return data(_with_bytes(session, name))


@contextlib.contextmanager
def local_file(session: Session, name: str) -> Iterator[BinaryIO]:
    """The stored dataset blob as a seekable local file (``dao.blobs.local_file``: the store's own
    file, or a temporary copy deleted when the block ends), for loaders that read it in place;
    an empty file for a rejected dataset (no bytes kept), as ``get_data`` gives b"".
    Raises DatasetNotFound."""
    row = _with_bytes(session, name)
    with blobs.local_file(row.blob_key, row.in_row) as fh:
        yield io.BytesIO() if fh is None else fh


def chunks(session: Session, name: str) -> Iterator[bytes] | bytes:
    """The dataset's bytes for a response: streamed from the store (the stream needs no
    session), or the row's own bytes. Raises DatasetNotFound."""
    row = _with_bytes(session, name)
    return blobs.chunks(row.blob_key, row.in_row) or b""


def subject_prints(session: Session, names=(), checksums=()) -> list[tuple[str, str, bytes | None]]:
    """(name, checksum, stored subject prints or None) of the connectome datasets named in
    ``names`` or whose checksum is in ``checksums``, by name; one query."""
    if not names and not checksums:
        return []
    rows = session.execute(
        select(Dataset.name, Dataset.checksum, Dataset.subject_prints)
        .where(Dataset.kind == "connectome",
               or_(Dataset.name.in_(list(names)), Dataset.checksum.in_(list(checksums))))
        .order_by(Dataset.name))
    return [(r.name, r.checksum, r.subject_prints) for r in rows]


def delete_dataset(session: Session, name: str) -> None:
    """Raises DatasetNotFound, or DatasetInUse while a queued or running task names it."""
    row = get_dataset(session, name)
    users = tasks_using_dataset(session, name)
    if users:
        raise DatasetInUse(name, users)
    blobs.release(session, row.blob_key)  # its object goes once the delete commits
    session.delete(row)


def _validating(session: Session, name: str) -> Dataset | None:
    # locked: the blob key read here is the one replaced (a concurrent move-blobs waits)
    row = session.get(Dataset, name, with_for_update=True, populate_existing=True)
    return row if row is not None and row.status == DatasetStatus.VALIDATING.value else None


def mark_dataset_ready(session: Session, name: str, meta: dict[str, Any], data: bytes) -> bool:
    """VALIDATING → READY with the validated (canonical) blob and its metadata; False when the
    row is gone or no longer VALIDATING (a duplicate message, or deleted meanwhile)."""
    row = _validating(session, name)
    if row is None:
        return False
    stored = blobs.put(session, blob_prefix(name), data, CONTENT_TYPE)
    blobs.release(session, row.blob_key)  # the uploaded object goes once this commits
    row.meta, row.in_row, row.blob_key, row.size = meta, None, stored.key, stored.size
    row.checksum = meta.get("checksum") or stored.sha256
    row.status = DatasetStatus.READY.value
    session.flush()
    return True


def mark_dataset_rejected(session: Session, name: str, problems: list[str]) -> bool:
    """VALIDATING → REJECTED, keeping the problems in ``meta["problems"]`` and dropping the
    uploaded blob (nothing can use it; the row stays to say why); False as above."""
    row = _validating(session, name)
    if row is None:
        return False
    row.meta = {**row.meta, "problems": list(problems)}
    blobs.release(session, row.blob_key)
    row.in_row, row.blob_key, row.size = None, None, 0
    row.status = DatasetStatus.REJECTED.value
    session.flush()
    return True


def find_by_file(session: Session, value: str, projects: frozenset[str] | None = None) -> list[str]:
    """Image or detection datasets a file name refers to: the dataset of that name, else those whose upload
    held a file of that name (``source_filename`` joins an upload's file names with "+").
    ``projects``: only datasets of these projects and shared ones (None: every dataset)."""
    visible = [] if projects is None else [or_(Dataset.project_id.is_(None), Dataset.project_id.in_(projects))]
    if session.scalar(select(Dataset.name).where(Dataset.name == value, *visible)) is not None:
        return [value]
    rows = session.execute(select(Dataset.name, Dataset.source_filename).where(
        Dataset.kind.in_(("image", "detection")), Dataset.source_filename.contains(value, autoescape=True),
        *visible))
    return sorted(name for name, files in rows if value in (files or "").split("+"))
