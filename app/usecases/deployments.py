"""Registering models from the API: deploy a SUCCEEDED torch or MXNet task (a worker of its
backend exports it), register
an uploaded ONNX file, copy an uploaded model under another name, and describe a registry row
with what the live serving processes hold of it. Shared by the deploy route, MMS's management
API and Fractal's model routes."""

from __future__ import annotations

import contextlib
from typing import BinaryIO

from sqlalchemy.orm import Session

from app.auth.audit import note_project, note_target
from webcommon.principal import Hidden, can_see, require
from webcommon.errors import ApiError
from contracts.serving_settings import ServingSettings
from dao import artifact_queries, auth_queries, model_queries, task_queries
from dao.errors import ModelNotFound, TaskNotFound
from dao.model_queries import Registration
from contracts.settings import get_settings
from contracts.statuses import BACKENDS
from dao.tables import ServedModel
from contracts.statuses import ModelStatus, TaskStatus
from tasks.publish import PublishError, publish_export

# Networks without a dense twin (models.networks.REGISTRY has dense=None for them): the ONNX
# export needs the dense form. tests/serving checks this agrees with the registry.
NO_DENSE_TWIN = frozenset({"SGN-TopK", "GAT"})
LIVE_WITHIN_SECONDS = 30.0


def check_deployable(session: Session, task_id: str) -> None:
    """Raises TaskNotFound, ApiError 409 (not SUCCEEDED, no weights) or 422 (a backend or a
    network that cannot be exported). An MXNet network that mx2onnx cannot convert faithfully
    is refused by its export job (the row FAILED with the reason)."""
    task = task_queries.get_task(session, task_id)
    if task.status != TaskStatus.SUCCEEDED.value:
        raise ApiError(409, f"task {task_id!r} is {task.status}; only a SUCCEEDED task can be deployed")
    if task.backend not in BACKENDS:
        raise ApiError(422, f"task {task_id!r} has backend {task.backend!r}, which cannot be deployed",
                       [{"field": "task_id", "problem": f"{task.backend} models cannot be deployed"}])
    if task.backend == "torch" and task.model in NO_DENSE_TWIN:
        raise ApiError(422, f"{task.model} has no dense twin; only dense networks export to ONNX",
                       [{"field": "task_id", "problem": f"{task.model} cannot be exported to ONNX"}])
    if artifact_queries.get_artifact(session, task_id, artifact_queries.WEIGHTS, with_data=False) is None:
        raise ApiError(409, f"task {task_id!r} has no stored weights")


def may_publish(project: str | None, hidden: Exception) -> None:
    """The one role check for every way a served model is made (native deploy, MMS register
    from a task or a model, Fractal upload): the caller edits the source's project, which the
    audit row names. Raises ``hidden`` for a project the caller may not see, ApiError 403."""
    try:
        require(project, "write")
    except Hidden:
        raise hidden from None
    note_project(project)


def _registered(row: ServedModel) -> ServedModel:
    note_target(f"model={row.name}/{row.version}")
    return row


def register_task(session: Session, task_id: str, name: str | None, version: str | None,
                  settings: ServingSettings, description: str = "") -> ServedModel:
    """An EXPORTING row for the task (commit, then ``start_export``). Raises TaskNotFound (also
    for a task the caller may not see), ApiError 403 (it may not edit the task's project), what
    check_deployable raises, ModelExists."""
    project = task_queries.get_task(session, task_id).proj_id
    may_publish(project, TaskNotFound(task_id))
    check_deployable(session, task_id)
    model_name = name or task_id
    may_add_version(session, model_name, project)
    return _registered(model_queries.register(session, Registration(
        name=model_name, version=version, source_kind="task", source_task_id=task_id,
        description=description, project_id=project, **settings.columns())))


def may_add_version(session: Session, name: str, project: str | None) -> None:
    """A name's versions stay in one project. Raises ApiError 409 (the name is another
    project's, or hidden), 403 (the caller may not change that project's models)."""
    current = auth_queries.project_of_model(session, name)
    if current is auth_queries.MISSING:
        return
    if not can_see(current) or current != project:
        raise ApiError(409, f"model name {name!r} is taken by another project; choose another name",
                       [{"field": "name", "problem": "is taken by another project"}])
    require(current, "write")


def start_export(model_id: int) -> None:
    """Publish the export job; a broker that is away fails the row (deploy again). Raises
    ApiError 503 then."""
    from dao.db import session_scope

    with session_scope() as session:
        row = model_queries.get_by_id(session, model_id)
        task = task_queries.get_task(session, row.source_task_id)
        backend = task.backend
    try:
        publish_export(model_id, backend)
    except PublishError:
        with session_scope() as session:
            model_queries.mark_failed(session, model_id, "the queue was unreachable; deploy again")
        raise ApiError(503, "the queue is unreachable; the model was not deployed, try again") from None


def register_upload(session: Session, name: str, filename: str, data: bytes | BinaryIO, signature: dict,
                    settings: ServingSettings, description: str = "", project: str | None = None) -> ServedModel:
    """A READY row for a checked ONNX upload (a new version when the name exists; it becomes
    the default, as a Fractal PUT replaces the model). ``data``: the file's bytes, or the
    upload's temp file at its start (streamed to the blob store). Raises ModelNotFound, ApiError
    403 (may_publish), 409 (may_add_version)."""
    may_publish(project, ModelNotFound(name))
    may_add_version(session, name, project)
    row = model_queries.register(session, Registration(
        name=name, version=None, source_kind="upload", source_filename=filename, description=description,
        contract=signature, onnx=data, project_id=project, **settings.columns()))
    return _registered(model_queries.set_default(session, name, row.version))


def copy_model(session: Session, source: ServedModel, name: str, settings: ServingSettings) -> ServedModel:
    """Register a READY model's ONNX file under another name (MMS ``POST /models?url=onnx:x``),
    in the source's project. Raises ModelNotFound, ApiError 403 (may_publish), 409."""
    may_publish(source.project_id, ModelNotFound(source.name, source.version))
    may_add_version(session, name, source.project_id)
    if source.status != ModelStatus.READY.value:
        raise ApiError(409, f"model {source.name!r} version {source.version!r} is {source.status}")
    # A copy of the file (streamed from the source's), not its key: deleting one leaves the other.
    onnx = model_queries.open_onnx(session, source.id)
    if onnx is None:
        raise ApiError(409, f"model {source.name!r} version {source.version!r} holds no ONNX file")
    with contextlib.closing(onnx):
        row = model_queries.register(session, Registration(
            name=name, version=None, source_kind=source.source_kind, source_task_id=source.source_task_id,
            source_filename=source.source_filename, description=source.description,
            contract=dict(source.contract), onnx=onnx, project_id=source.project_id, **settings.columns()))
    row.verification = source.verification
    return _registered(row)


def instances(session: Session, row: ServedModel) -> list[dict]:
    """What each live serving process holds of ``row``: its instances (onnxruntime sessions)."""
    out = []
    for proc in model_queries.live_processes(session, LIVE_WITHIN_SECONDS):
        held = proc.models.get(str(row.id))
        if held is not None:
            out.append({"process": proc.name, "host": proc.host, "pid": proc.pid, "state": held["state"],
                        "instances": held["instances"], "waiting": held.get("waiting", 0),
                        "heartbeat_at": proc.heartbeat_at.isoformat()})
    return out


def source_url(row: ServedModel) -> str:
    return f"task:{row.source_task_id}" if row.source_kind == "task" else f"onnx:{row.source_filename or row.name}"


def describe(session: Session, row: ServedModel) -> dict:
    """A registry row for people and clients (no blob)."""
    return {
        "name": row.name, "version": row.version, "default": row.is_default, "status": row.status,
        "proj_id": row.project_id,
        "error": row.error, "description": row.description,
        "source": {"kind": row.source_kind, "task_id": row.source_task_id, "filename": row.source_filename,
                   "url": source_url(row)},
        "onnx": {"location": row.onnx_location, "size": row.onnx_size, "sha256": row.onnx_sha256},
        "contract": row.contract, "verification": row.verification,
        "settings": {"batch_size": row.batch_size, "max_batch_delay": row.max_batch_delay_ms,
                     "min_worker": row.min_worker, "max_worker": row.max_worker},
        "serving": instances(session, row),
        "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
    }


def upload_limit_mb() -> int:
    return get_settings().max_onnx_mb
