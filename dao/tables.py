"""SQLAlchemy 2.0 tables. Never called "models": that word belongs to neural networks here."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, UniqueConstraint)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column

from contracts.statuses import DatasetStatus, ModelStatus, TaskStatus

# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JsonColumn = JSON().with_variant(JSONB(), "postgresql")
# bytea / BLOB; stored blobs live in the database so any worker anywhere can read them.
Blob = LargeBinary()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JsonColumn, list[Any]: JsonColumn}



class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    proj_id: Mapped[str] = mapped_column(String(200))
    proj_name: Mapped[str] = mapped_column(String(200))
    task_name: Mapped[str] = mapped_column(String(200))
    task_type: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(16), default="torch")
    queue: Mapped[str] = mapped_column(String(64))
    form: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.QUEUED.value)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    epochs_total: Mapped[int] = mapped_column(Integer, default=0)
    epochs_done: Mapped[int] = mapped_column(Integer, default=0)
    parent_task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id"), nullable=True)
    sweep_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # tasks of one hyper-parameter search
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    device: Mapped[str | None] = mapped_column(String(64), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    waiting_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        # Listing newest first per project, filtered by status; polling by id uses the PK.
        Index("ix_tasks_proj_created", "proj_id", "created_at", "id"),
        Index("ix_tasks_created", "created_at", "id"),
        Index("ix_tasks_status_queue_created_id", "status", "queue", "created_at", "id"),
        Index("ix_tasks_sweep", "sweep_id"),
    )


class TaskEpoch(Base):
    __tablename__ = "task_epochs"

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    metrics: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TaskLogLine(Base):
    """One line a task's job logged on its worker (epoch lines, warnings, a failure's traceback),
    numbered per task; written as it happens, so a worker's death keeps what came before.
    No foreign key to ``tasks``: checking one would lock the task's row, which the worker may
    hold FOR UPDATE while it logs (tasks are never deleted)."""

    __tablename__ = "task_logs"

    task_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    level: Mapped[str] = mapped_column(String(10))
    logger: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)


class TaskArtifact(Base):
    """Weights, checkpoints and pictures a task produced, one row per kind. The bytes are in the
    blob store under ``blob_key`` (dao.artifact_queries); rows written before it keep them in the
    ``data`` column (``in_row``) until ``start.sh move-blobs`` moves them."""

    __tablename__ = "task_artifacts"

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    epoch: Mapped[int | None] = mapped_column(Integer, nullable=True)
    in_row: Mapped[bytes | None] = deferred(mapped_column("data", Blob, nullable=True))
    blob_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )



class Dataset(Base):
    __tablename__ = "datasets"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="connectome")
    status: Mapped[str] = mapped_column(String(16), default=DatasetStatus.READY.value,
                                        server_default=DatasetStatus.READY.value)
    meta: Mapped[dict[str, Any]] = mapped_column()
    source_filename: Mapped[str | None] = mapped_column(String(300), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(64))
    # The archive's bytes: in the blob store under ``blob_key``; datasets stored before it keep
    # them in the ``data`` column (``in_row``) until ``start.sh move-blobs`` moves them.
    in_row: Mapped[bytes | None] = deferred(mapped_column("data", Blob, nullable=True))
    blob_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    # A connectome dataset's per-subject fingerprints (models.datasets.fingerprints.to_bytes);
    # None for images and for datasets uploaded before they existed (computed from data then).
    subject_prints: Mapped[bytes | None] = deferred(mapped_column(Blob, nullable=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # None: shared (every user reads it, only a service admin changes it), like the demo dataset.
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"), nullable=True)


class Worker(Base):
    """A live worker process, its pinned GPUs and what it runs; heartbeats keep it listed."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    backend: Mapped[str] = mapped_column(String(16))
    queues: Mapped[list[Any]] = mapped_column()
    gpus: Mapped[list[Any]] = mapped_column()
    current_task_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)



class ServedModel(Base):
    """The model registry: one row per (name, version); serving processes load the READY ones.

    The ONNX file is in the blob store under ``onnx_key`` (models stored before it keep it in the
    row, ``onnx``, until ``start.sh move-blobs``); ``onnx_location`` names where it is.
    ``updated_at`` changes on every edit, which is what serving processes poll for.
    """

    __tablename__ = "served_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(64))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    source_kind: Mapped[str] = mapped_column(String(16))  # "task" | "upload"
    source_task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"), nullable=True)
    source_filename: Mapped[str | None] = mapped_column(String(300), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=ModelStatus.EXPORTING.value)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    onnx_location: Mapped[str | None] = mapped_column(String(300), nullable=True)
    onnx_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    onnx_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    onnx: Mapped[bytes | None] = deferred(mapped_column(Blob, nullable=True))  # models stored before the blob store
    onnx_key: Mapped[str | None] = mapped_column(String(512), nullable=True)  # the ONNX file in the blob store
    # regions, node_features, classes, class_names, preprocessing; inputs/outputs signature
    contract: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # max_abs_diff, tolerance, n_subjects, subjects (which role), reference (what was compared)
    verification: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    batch_size: Mapped[int] = mapped_column(Integer, default=1)
    max_batch_delay_ms: Mapped[float] = mapped_column(Float, default=5.0)
    min_worker: Mapped[int] = mapped_column(Integer, default=1)
    max_worker: Mapped[int] = mapped_column(Integer, default=1)
    # While EXPORTING: the worker exporting it and its last heartbeat (None: not taken yet).
    exporter: Mapped[str | None] = mapped_column(String(200), nullable=True)
    export_heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # None: shared, as for datasets. Every version of a name is in the project of its first.
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"), nullable=True)

    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_served_models_name_version"),
    )


class ServingProcess(Base):
    """A live serving process and the model instances it holds; heartbeats keep it listed."""

    __tablename__ = "serving_processes"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    # {"<model id>": {"name", "version", "state", "instances", "started_at"}}
    models: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Role(str, enum.Enum):
    """A member's role in a project: viewer reads; editor also submits, stops, uploads and
    deploys; admin also manages members and deletes."""

    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)  # the service admin, above projects
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Project(Base):
    """``id`` is the task form's ``proj_id``; tasks keep it in their ``proj_id`` column."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # At most this many tasks dispatched at once (sent or running) / GPUs held; None: the
    # service's default (TRAINYARD_PROJECT_MAX_RUNNING / _MAX_GPUS; 0 there: no limit).
    max_running: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_gpus: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # At most this many MiB of datasets, model ONNX files and task artifacts (dao/storage_quota.py); None: no limit.
    max_storage_mb: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Membership(Base):
    __tablename__ = "memberships"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_memberships_user", "user_id"),)


class ApiToken(Base):
    """A bearer token: only the SHA-256 of its secret is kept (the secret is shown once).
    ``projects`` None: every project of its user; else only those. Revoked and expired tokens
    stay listed and never authenticate."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    projects: Mapped[list[Any] | None] = mapped_column(nullable=True)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_api_tokens_user", "user_id"),)


class AuditEntry(Base):
    """Who changed what: every accepted change (submit, stop, delete, deploy, uploads, tokens,
    members, projects), written by the API after it answered."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_name: Mapped[str] = mapped_column(String(100))
    token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(100))  # the route's endpoint, e.g. tasks.stop
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    target: Mapped[str | None] = mapped_column(String(300), nullable=True)
    client: Mapped[str | None] = mapped_column(String(100), nullable=True)

    __table_args__ = (Index("ix_audit_project_at", "project_id", "at"), Index("ix_audit_at", "at"))


__all__ = ["AuditEntry", "User", "Project", "Membership", "ApiToken", "Role", "Base", "ServedModel", "ServingProcess",
           "Task", "TaskEpoch", "TaskLogLine", "TaskArtifact", "Dataset", "Worker", "utcnow"]
