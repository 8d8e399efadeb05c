"""The model registry (``served_models``): register, find, list, edit, delete, and the light
snapshot serving processes poll. Functions take the session and never commit.

A model's ONNX file is an object in the blob store (``onnx_key``, under ``models/<id>/``), tied
to the transaction that names it (dao.blobs); rows written before the store keep it in the row
(``onnx``) until ``start.sh move-blobs``, and every reader here serves both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, BinaryIO

import datetime as dt

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, undefer

from dao import blobs
from dao.db import plain_rows
from dao.errors import ModelExists, ModelNotFound
from dao.tables import ServedModel, ServingProcess, utcnow
from contracts.statuses import ModelStatus

SETTINGS = ("batch_size", "max_batch_delay_ms", "min_worker", "max_worker")
PREFIX = "models"  # models/<id>/<uuid>: a model's ONNX file in the blob store
CONTENT_TYPE = "application/octet-stream"
Onnx = bytes | BinaryIO  # an ONNX file: its bytes, or a readable file (an upload's temp file)


@dataclass(frozen=True)
class Registration:
    """What a new registry row needs; ``onnx`` is given for uploads (checked already): bytes, or
    a readable file positioned at its start, streamed to the blob store."""

    name: str
    version: str | None
    source_kind: str  # "task" | "upload"
    source_task_id: str | None = None
    source_filename: str | None = None
    description: str = ""
    contract: dict[str, Any] | None = None
    onnx: Onnx | None = None
    batch_size: int = 1
    max_batch_delay_ms: float = 5.0
    min_worker: int = 1
    max_worker: int = 1
    project_id: str | None = None


def register(session: Session, reg: Registration) -> ServedModel:
    """A new row: READY with its ONNX bytes for an upload, EXPORTING for a task (a worker fills
    it in). The first version of a name becomes its default. ``version`` None: one more than the
    highest numeric version of that name. Raises ModelExists."""
    version = reg.version or str(_next_version(session, reg.name))
    if find(session, reg.name, version) is not None:
        raise ModelExists(reg.name, version)
    first = not session.scalar(select(func.count()).where(ServedModel.name == reg.name))
    row = ServedModel(
        name=reg.name, version=version, is_default=bool(first), source_kind=reg.source_kind,
        source_task_id=reg.source_task_id, source_filename=reg.source_filename,
        description=reg.description, contract=reg.contract or {},
        status=ModelStatus.EXPORTING.value, batch_size=reg.batch_size,
        max_batch_delay_ms=reg.max_batch_delay_ms, min_worker=reg.min_worker, max_worker=reg.max_worker,
        project_id=reg.project_id if first else _project_of_name(session, reg.name),
    )
    session.add(row)
    session.flush()
    if reg.onnx is not None:
        store_onnx(session, row, reg.onnx, reg.contract or {}, verification=None)
    return row


def _project_of_name(session: Session, name: str) -> str | None:
    return session.scalar(select(ServedModel.project_id).where(ServedModel.name == name)
                          .order_by(ServedModel.id).limit(1))


def _next_version(session: Session, name: str) -> int:
    versions = session.scalars(select(ServedModel.version).where(ServedModel.name == name))
    numbers = [int(v) for v in versions if v.isdigit()]
    return max(numbers, default=0) + 1


def store_onnx(session: Session, row: ServedModel, onnx: Onnx, contract: dict[str, Any],
               verification: dict[str, Any] | None) -> None:
    """Mark ``row`` READY with its ONNX file (bytes or a readable file, written to the blob store:
    deleted again if this transaction rolls back), contract and verification record."""
    stored = blobs.put(session, f"{PREFIX}/{row.id}", onnx, CONTENT_TYPE)
    blobs.release(session, row.onnx_key)  # a file it replaces goes once this commits
    row.onnx_key, row.onnx = stored.key, None
    row.onnx_size, row.onnx_sha256 = stored.size, stored.sha256
    row.onnx_location = f"blob:{stored.key}"
    row.contract, row.verification = contract, verification
    row.status, row.error = ModelStatus.READY.value, None
    session.flush()


def mark_failed(session: Session, model_id: int, error: str) -> bool:
    """EXPORTING → FAILED with the reason; False when the row is gone or not EXPORTING."""
    done = session.execute(
        update(ServedModel)
        .where(ServedModel.id == model_id, ServedModel.status == ModelStatus.EXPORTING.value)
        .values(status=ModelStatus.FAILED.value, error=error[:4000])
    ).rowcount
    return bool(done)


def claim_export(session: Session, model_id: int, worker: str, stale_before: dt.datetime) -> bool:
    """Take an EXPORTING model's export for ``worker`` (compare-and-set): True when nobody holds
    it or its holder's last heartbeat is older than ``stale_before``."""
    return bool(session.execute(
        update(ServedModel)
        .where(ServedModel.id == model_id, ServedModel.status == ModelStatus.EXPORTING.value,
               (ServedModel.exporter.is_(None)) | (ServedModel.export_heartbeat_at < stale_before))
        .values(exporter=worker, export_heartbeat_at=utcnow(), updated_at=ServedModel.updated_at)
    ).rowcount)


def export_heartbeat(session: Session, model_id: int, worker: str) -> bool:
    """Renew ``worker``'s hold on the export; False when it is no longer its own (re-sent by the
    reaper and taken elsewhere, or decided). ``updated_at``, which serving processes watch, stays."""
    return bool(session.execute(
        update(ServedModel)
        .where(ServedModel.id == model_id, ServedModel.status == ModelStatus.EXPORTING.value,
               ServedModel.exporter == worker)
        .values(export_heartbeat_at=utcnow(), updated_at=ServedModel.updated_at)
    ).rowcount)


def stale_exports(session: Session, stale_before: dt.datetime) -> list[tuple[int, str | None, str]]:
    """EXPORTING models whose exporter's last heartbeat is older than ``stale_before``: (id,
    source task id, exporter)."""
    return [tuple(r) for r in session.execute(
        select(ServedModel.id, ServedModel.source_task_id, ServedModel.exporter).where(
            ServedModel.status == ModelStatus.EXPORTING.value, ServedModel.exporter.is_not(None),
            ServedModel.export_heartbeat_at < stale_before)).all()]


def release_export(session: Session, model_id: int, exporter: str, stale_before: dt.datetime) -> bool:
    """Hand a stale hold back (no exporter), unless ``exporter`` beat again or another worker took it."""
    return bool(session.execute(
        update(ServedModel)
        .where(ServedModel.id == model_id, ServedModel.status == ModelStatus.EXPORTING.value,
               ServedModel.exporter == exporter, ServedModel.export_heartbeat_at < stale_before)
        .values(exporter=None, export_heartbeat_at=None, updated_at=ServedModel.updated_at)).rowcount)


def untaken_exports(session: Session) -> list[tuple[int, str | None]]:
    """EXPORTING models no worker has taken yet: (id, source task id)."""
    return [tuple(r) for r in session.execute(select(ServedModel.id, ServedModel.source_task_id).where(
        ServedModel.status == ModelStatus.EXPORTING.value, ServedModel.exporter.is_(None),
        ServedModel.source_task_id.is_not(None))).all()]


def find(session: Session, name: str, version: str | None = None) -> ServedModel | None:
    """A version of ``name``, or its default version when ``version`` is None."""
    stmt = select(ServedModel).where(ServedModel.name == name)
    if version is None:
        stmt = stmt.order_by(ServedModel.is_default.desc(), ServedModel.id.desc())
    else:
        stmt = stmt.where(ServedModel.version == version)
    return session.scalars(stmt.limit(1)).first()


def get(session: Session, name: str, version: str | None = None) -> ServedModel:
    """Raises ModelNotFound."""
    row = find(session, name, version)
    if row is None:
        raise ModelNotFound(name, version)
    return row


def get_by_id(session: Session, model_id: int, *, with_onnx: bool = False) -> ServedModel | None:
    stmt = select(ServedModel).where(ServedModel.id == model_id)
    if with_onnx:
        stmt = stmt.options(undefer(ServedModel.onnx))
    return session.scalars(stmt).first()


def versions(session: Session, name: str) -> list[ServedModel]:
    """Every version of ``name``, oldest first. Raises ModelNotFound when there is none."""
    rows = list(session.scalars(select(ServedModel).where(ServedModel.name == name).order_by(ServedModel.id)))
    if not rows:
        raise ModelNotFound(name)
    return rows


def list_models(session: Session) -> list[ServedModel]:
    return list(session.scalars(select(ServedModel).order_by(ServedModel.name, ServedModel.id)))


def set_default(session: Session, name: str, version: str) -> ServedModel:
    """Make ``version`` the default of ``name``. Raises ModelNotFound."""
    row = get(session, name, version)
    session.execute(update(ServedModel).where(ServedModel.name == name, ServedModel.id != row.id)
                    .values(is_default=False))
    row.is_default = True
    session.flush()
    return row


def update_settings(session: Session, rows: list[ServedModel], **settings: Any) -> None:
    """Set batching / worker settings (keys of SETTINGS; None leaves a value alone)."""
    for row in rows:
        for key, value in settings.items():
            if key in SETTINGS and value is not None:
                setattr(row, key, value)
    session.flush()


def delete(session: Session, name: str, version: str | None = None) -> list[ServedModel]:
    """Delete one version, or every version when ``version`` is None; a deleted default hands
    the default to the newest remaining version. Raises ModelNotFound."""
    rows = versions(session, name) if version is None else [get(session, name, version)]
    for row in rows:
        blobs.release(session, row.onnx_key)  # its file goes once the delete commits
        session.delete(row)
    session.flush()
    rest = list(session.scalars(select(ServedModel).where(ServedModel.name == name).order_by(ServedModel.id)))
    if rest and not any(r.is_default for r in rest):
        rest[-1].is_default = True
        session.flush()
    return rows


@dataclass(frozen=True)
class Entry:
    """A row without its ONNX bytes: what serving processes poll."""

    id: int
    name: str
    version: str
    is_default: bool
    status: str
    sha256: str | None
    contract: dict[str, Any]
    batch_size: int
    max_batch_delay_ms: float
    min_worker: int
    max_worker: int
    updated_at: Any
    project_id: str | None = None


_ENTRY_COLUMNS = (ServedModel.id, ServedModel.name, ServedModel.version, ServedModel.is_default,
                  ServedModel.status, ServedModel.onnx_sha256, ServedModel.contract, ServedModel.batch_size,
                  ServedModel.max_batch_delay_ms, ServedModel.min_worker, ServedModel.max_worker,
                  ServedModel.updated_at, ServedModel.project_id)


def snapshot(session: Session) -> list[Entry]:
    """Every row, light (no blobs): one small query, cheap to poll every second."""
    return [Entry(*r) for r in session.execute(select(*_ENTRY_COLUMNS).order_by(ServedModel.id))]


def entry(session: Session, model_id: int) -> Entry | None:
    """One row, light (no blob), as ``snapshot`` reads it."""
    row = session.execute(select(*_ENTRY_COLUMNS).where(ServedModel.id == model_id)).first()
    return None if row is None else Entry(*row)


@dataclass(frozen=True)
class Version:
    """One version of a name as a prediction request checks it: no blob, no contract."""

    id: int
    version: str
    is_default: bool
    status: str
    sha256: str | None
    error: str | None
    project_id: str | None


_VERSIONS_NOW = (select(ServedModel.id, ServedModel.version, ServedModel.is_default, ServedModel.status,
                        ServedModel.onnx_sha256, ServedModel.error, ServedModel.project_id)
                 .where(ServedModel.name == bindparam("name")).order_by(ServedModel.id))


def versions_now(conn, name: str) -> list[Version]:  # noqa: ANN001 - a Connection (dao.db.read)
    """Every version of ``name``, oldest first: one indexed read (the name leads the unique
    index), made for every prediction so that every serving process answers as the registry is
    now."""
    return [Version(*r) for r in plain_rows(conn, _VERSIONS_NOW, {"name": name})]


def _onnx_of(session: Session, model_id: int):  # noqa: ANN202 - a Row (onnx_key, onnx) or None
    return session.execute(select(ServedModel.onnx_key, ServedModel.onnx).where(ServedModel.id == model_id)).first()


def onnx_bytes(session: Session, model_id: int) -> bytes | None:
    """The model's ONNX file: from the blob store, or from its row (written before the store);
    None when the row is gone or has no file (not READY)."""
    found = _onnx_of(session, model_id)
    return None if found is None else blobs.read(*found)


def open_onnx(session: Session, model_id: int) -> BinaryIO | None:
    """The model's ONNX file as a readable stream (close it): the blob store's object read as it
    goes (the stream needs no session), or its row's bytes; None as for ``onnx_bytes``."""
    found = _onnx_of(session, model_id)
    return None if found is None else blobs.open_stream(*found)


# ---------------------------------------------------------------- serving processes


def heartbeat_process(session: Session, name: str, host: str, pid: int, models: dict[str, Any]) -> None:
    """Insert or refresh a serving process's row with the instances it holds now."""
    row = session.get(ServingProcess, name)
    if row is None:
        row = ServingProcess(name=name, host=host, pid=pid)
        session.add(row)
    row.models, row.heartbeat_at = models, utcnow()
    session.flush()


def forget_process(session: Session, name: str) -> None:
    row = session.get(ServingProcess, name)
    if row is not None:
        session.delete(row)
        session.flush()


def live_processes(session: Session, within_seconds: float) -> list[ServingProcess]:
    """Serving processes that sent a heartbeat in the last ``within_seconds``."""
    since = utcnow() - dt.timedelta(seconds=within_seconds)
    return list(session.scalars(select(ServingProcess).where(ServingProcess.heartbeat_at >= since)
                                .order_by(ServingProcess.name)))
