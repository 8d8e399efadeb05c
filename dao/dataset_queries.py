"""Registered datasets: metadata rows plus the canonical array blob."""

from __future__ import annotations

import hashlib
import struct
from typing import Any, BinaryIO

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, undefer

from dao.errors import DatasetExists, DatasetInUse, DatasetNotFound
from dao.tables import Dataset
from contracts.statuses import DatasetStatus
from dao.task_queries import tasks_using_dataset

_CHUNK = 1 << 20


def insert_dataset(session: Session, name: str, kind: str, meta: dict[str, Any], data: bytes,
                   source_filename: str | None = None,
                   status: str = DatasetStatus.READY.value, project_id: str | None = None,
                   checksum: str | None = None, subject_prints: bytes | None = None) -> Dataset:
    """Raises DatasetExists."""
    if session.get(Dataset, name) is not None:
        raise DatasetExists(name)
    row = Dataset(name=name, kind=kind, meta=meta, in_row=data, size=len(data),
                  checksum=checksum or meta.get("checksum") or hashlib.sha256(data).hexdigest(),
                  source_filename=source_filename, status=status, project_id=project_id,
                  subject_prints=subject_prints)
    session.add(row)
    session.flush()
    return row


# PostgreSQL's binary COPY format for rows of one bytea column: signature, flags, extension.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER = struct.pack("!h", -1)


def insert_dataset_file(session: Session, name: str, kind: str, meta: dict[str, Any], fh: BinaryIO, size: int,
                        checksum: str, **columns: Any) -> Dataset:
    """insert_dataset with the blob read from the binary file ``fh`` (``size`` bytes, its sha256
    ``checksum``). On PostgreSQL the blob is streamed in chunks (a binary COPY into a temporary
    table, then copied into the row by the server), so this process never holds it whole;
    elsewhere (the embedded SQLite) it is read into memory. ``columns``: as insert_dataset.
    Raises DatasetExists."""
    fh.seek(0)
    if session.connection().dialect.name != "postgresql":
        return insert_dataset(session, name, kind, meta, fh.read(), checksum=checksum, **columns)
    row = insert_dataset(session, name, kind, meta, b"", checksum=checksum, **columns)
    row.size = size
    session.flush()
    cursor = session.connection().connection.driver_connection.cursor()
    cursor.execute("CREATE TEMPORARY TABLE upload_blob (data bytea)")
    with cursor.copy("COPY upload_blob (data) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_COPY_HEADER + struct.pack("!hi", 1, size))
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            copy.write(chunk)
        copy.write(_COPY_TRAILER)
    cursor.execute("UPDATE datasets SET data = (SELECT data FROM upload_blob) WHERE name = %s", (name,))
    cursor.execute("DROP TABLE upload_blob")
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


def get_data(session: Session, name: str) -> bytes:
    """The stored dataset blob (the original's ``get_data``). Raises DatasetNotFound."""
    row = session.scalars(
        select(Dataset).where(Dataset.name == name).options(undefer(Dataset.in_row))
    ).first()
    if row is None:
        raise DatasetNotFound(name)
    return row.in_row


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
    session.delete(row)


def _validating(session: Session, name: str) -> Dataset | None:
    row = session.get(Dataset, name)
    return row if row is not None and row.status == DatasetStatus.VALIDATING.value else None


def mark_dataset_ready(session: Session, name: str, meta: dict[str, Any], data: bytes) -> bool:
    """VALIDATING → READY with the validated (canonical) blob and its metadata; False when the
    row is gone or no longer VALIDATING (a duplicate message, or deleted meanwhile)."""
    row = _validating(session, name)
    if row is None:
        return False
    row.meta, row.in_row, row.size = meta, data, len(data)
    row.checksum = meta.get("checksum") or hashlib.sha256(data).hexdigest()
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
    row.in_row, row.size = b"", 0
    row.status = DatasetStatus.REJECTED.value
    session.flush()
    return True


def find_by_file(session: Session, value: str, projects: frozenset[str] | None = None) -> list[str]:
    """Image datasets a file name refers to: the dataset of that name, else those whose upload
    held a file of that name (``source_filename`` joins an upload's file names with "+").
    ``projects``: only datasets of these projects and shared ones (None: every dataset)."""
    visible = [] if projects is None else [or_(Dataset.project_id.is_(None), Dataset.project_id.in_(projects))]
    if session.scalar(select(Dataset.name).where(Dataset.name == value, *visible)) is not None:
        return [value]
    rows = session.execute(select(Dataset.name, Dataset.source_filename).where(
        Dataset.kind == "image", Dataset.source_filename.contains(value, autoescape=True), *visible))
    return sorted(name for name, files in rows if value in (files or "").split("+"))
