"""MMS / TorchServe's management API on the control plane: register (``POST /models?url=``),
list, describe, scale (``PUT /models/<m>?min_worker=&max_worker=``), set the default version,
unregister. Replies and errors are shaped as TorchServe's (``{"status"}``, ``{"code", "type",
"message"}``).

``url`` names a trained task (``task:<id>`` or the bare task id) or an uploaded ONNX model
(``onnx:<name>[/<version>]``). Model archives (``.mar``) and remote URLs are refused: an archive
carries handler code, and trainyard never runs code a client sends.
"""

from __future__ import annotations

import time

from flask import Blueprint, request
from pydantic import ValidationError

from app.usecases import deployments
from app.errors import register_model_errors
from webcommon.errors import ApiError, pydantic_problems
from contracts.serving_settings import NAME, ServingSettings
from webcommon.principal import can_see
from dao import auth_queries, model_queries
from dao.errors import ModelNotFound
from dao.db import session_scope
from contracts.statuses import ModelStatus
from contracts import foreign_replies as f
from webcommon.openapi.common import MMS
from webcommon.openapi.spec_types import Op, Param, choice, documented, fields_as_query, integer, number, string

bp = Blueprint("mms_management", __name__)
TYPES = {400: "BadRequestException", 401: "UnauthorizedException", 403: "ForbiddenException",
         404: "ModelNotFoundException", 409: "ConflictStatusException", 413: "RequestEntityTooLargeException",
         422: "BadRequestException", 503: "ServiceUnavailableException"}
# the query parameters of register and scale, for the OpenAPI document
SERVING_SETTINGS = (*fields_as_query(ServingSettings), Param("synchronous", choice("true", "false", "1", "0")))


def _error(code: int, message: str):
    return f.TorchServeError(code=code, type=TYPES.get(code, "InternalServerException"), message=message), code


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    detail = "; ".join(f"{e['field']}: {e['problem']}" for e in exc.errors) if exc.errors else ""
    return _error(exc.status, exc.msg + (f" ({detail})" if detail and detail not in exc.msg else ""))


register_model_errors(bp, _error)


def _bool(name: str) -> bool:
    raw = (request.args.get(name) or "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise ApiError(400, f"{name} must be true or false", [{"field": name, "problem": "must be true or false"}])
    return raw in ("true", "1")


def _settings(defaults: dict | None = None) -> ServingSettings:
    """batch_size, max_batch_delay, initial_workers / min_worker, max_worker from the query."""
    raw = dict(defaults or {})
    for key, field in (("batch_size", "batch_size"), ("max_batch_delay", "max_batch_delay"),
                       ("initial_workers", "min_worker"), ("min_worker", "min_worker"),
                       ("max_worker", "max_worker")):
        if request.args.get(key) not in (None, ""):
            raw[field] = request.args[key]
    try:
        return ServingSettings.model_validate(raw)
    except ValidationError as exc:
        problems = pydantic_problems(exc)
        raise ApiError(400, "bad query parameters", [{"field": f, "problem": p} for f, p in problems]) from None


def _source(url: str) -> tuple[str, str, str | None]:
    """("task", task id, None) or ("onnx", name, version). Raises ApiError 400."""
    if url.lower().endswith(".mar") or "://" in url or url.startswith("/"):
        raise ApiError(400, f"url {url!r} is refused: trainyard never loads model archives or remote files "
                            "(an archive carries handler code); name a trained task as task:<id> or an "
                            "uploaded ONNX model as onnx:<name>[/<version>]")
    if url.startswith("onnx:"):
        name, _, version = url[5:].partition("/")
        return "onnx", name, version or None
    return "task", url.removeprefix("task:"), None


@bp.post("/models")
@documented(Op(
    "Register a model (TorchServe)", MMS, {200: f.TorchServeStatus, 202: f.TorchServeStatus}, (400, 404, 409, 422),
    query=(Param("url", string(), required=True, description="task:<id> (or the bare id) or onnx:<name>[/<version>]"),
           Param("model_name", string()), Param("initial_workers", integer(1, 32)),
           Param("response_timeout", number(1, 600)), *SERVING_SETTINGS)))
def register():
    url = request.args.get("url") or ""
    if not url:
        raise ApiError(400, "url is required (task:<id> or onnx:<name>[/<version>])",
                       [{"field": "url", "problem": "is required"}])
    kind, ref, version = _source(url)
    name = request.args.get("model_name") or ref
    if not _valid_name(name):
        raise ApiError(400, f"model_name {name!r} must be 1-200 letters, digits, '.', '_' or '-'")
    settings = _settings()
    timeout = _number("response_timeout", 120.0, 1.0, 600.0)  # read before anything is written
    with session_scope() as session:
        if kind == "task":
            row = deployments.register_task(session, ref, name, None, settings)
        else:
            _visible(session, auth_queries.project_of_model(session, ref), ModelNotFound(ref, version))
            row = deployments.copy_model(session, model_queries.get(session, ref, version), name, settings)
        model_id, version = row.id, row.version
    if kind == "task":
        deployments.start_export(model_id)
    status = _wait_export(model_id, timeout) if kind == "task" and _bool("synchronous") else None
    if status == ModelStatus.FAILED.value:
        with session_scope() as session:
            return _error(422, f"Model \"{name}\" failed: {model_queries.get_by_id(session, model_id).error}")
    done = kind == "onnx" or status == ModelStatus.READY.value
    text = f"Model \"{name}\" Version: {version} registered with {settings.min_worker} initial workers"
    if not done:
        return f.TorchServeStatus(status=f"{text}; exporting to ONNX: GET /models/{name} shows when it is READY"), 202
    return f.TorchServeStatus(status=text)


def _visible(session, project, hidden: Exception) -> None:  # noqa: ANN001
    """Raises ``hidden`` when the source named by ``url`` is in a project the caller may not see."""
    if project is not auth_queries.MISSING and not can_see(project):
        raise hidden


def _valid_name(name: str) -> bool:
    import re

    return bool(re.match(NAME, name))


def _number(name: str, default: float, low: float, high: float) -> float:
    """A number from the query. Raises ApiError 400 naming it (not a number, nan, out of range)."""
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be a number between {low:g} and {high:g}",
                       [{"field": name, "problem": f"must be a number between {low:g} and {high:g}"}])
    return value


def _wait_export(model_id: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        with session_scope() as session:
            status = model_queries.get_by_id(session, model_id).status
        if status != ModelStatus.EXPORTING.value or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


@bp.get("/models")
@documented(Op("List models (TorchServe)", MMS, {200: f.TorchServeList}, (400,),
                query=(Param("limit", integer(1, 1000)), Param("next_page_token", integer(0, 10**9)))))
def list_models():
    limit = _int("limit", 100, 1, 1000)
    start = _int("next_page_token", 0, 0, 10**9)
    with session_scope() as session:
        rows = [r for r in model_queries.list_models(session) if r.is_default and can_see(r.project_id)]
        page = rows[start:start + limit]
        reply = f.TorchServeList(models=[f.TorchServeModelRef(modelName=m.name, modelUrl=deployments.source_url(m))
                                         for m in page])
    if start + limit < len(rows):
        reply.nextPageToken = str(start + limit)  # a field set: written, unlike the default
    return reply


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, f"{name} must be an integer between {low} and {high}")
    return int(raw)


@bp.get("/models/<name>")
@bp.get("/models/<name>/<version>")
@documented(Op("Describe a model (TorchServe)", MMS, {200: f.TorchServeModels}, (404,)))
def describe(name: str, version: str | None = None):
    with session_scope() as session:
        if version == "all":
            rows = model_queries.versions(session, name)
        else:
            rows = [model_queries.get(session, name, version)]
        return f.TorchServeModels([_torchserve_view(session, row) for row in rows])


def _torchserve_view(session, row) -> f.TorchServeModel:  # noqa: ANN001
    held = deployments.instances(session, row)
    workers = [f.TorchServeWorker(id=f"{h['process']}/{i}", process=h["process"], pid=h["pid"], host=h["host"],
                                  status="READY" if h["state"] == ModelStatus.READY.value else h["state"])
               for h in held for i in range(h["instances"])]
    return f.TorchServeModel(
        modelName=row.name, modelVersion=row.version, modelUrl=deployments.source_url(row),
        runtime="onnxruntime", minWorkers=row.min_worker, maxWorkers=row.max_worker,
        batchSize=row.batch_size, maxBatchDelay=row.max_batch_delay_ms, loadedAtStartup=False,
        isDefault=row.is_default, status=row.status, error=row.error,
        workersNote="workers are model instances (onnxruntime sessions) per serving process; "
                    "minWorkers..maxWorkers apply to each serving process",
        workers=workers, processes=held, verification=row.verification)


@bp.put("/models/<name>")
@bp.put("/models/<name>/<version>")
@documented(Op("Scale a model's workers (TorchServe)", MMS, {200: f.TorchServeStatus, 202: f.TorchServeStatus},
                (400, 404), query=SERVING_SETTINGS))
def scale(name: str, version: str | None = None):
    with session_scope() as session:
        rows = [model_queries.get(session, name, version)]
        current = rows[0]
        settings = _settings(_scaled_defaults(current))
        model_queries.update_settings(session, rows, **settings.columns())
        model_id = current.id
    if _bool("synchronous") and _wait_scaled(model_id, settings.min_worker, settings.max_worker):
        return f.TorchServeStatus(status=f"Workers scaled to {settings.min_worker} for model: {name}")
    return f.TorchServeStatus(status="Processing worker updates..."), 202


def _scaled_defaults(row) -> dict:
    """The row's settings; a min_worker above its max_worker raises max_worker with it."""
    defaults = {"batch_size": row.batch_size, "max_batch_delay": row.max_batch_delay_ms,
                "min_worker": row.min_worker, "max_worker": row.max_worker}
    low = request.args.get("min_worker") or ""
    if low.isdigit() and not request.args.get("max_worker") and int(low) > row.max_worker:
        defaults["max_worker"] = int(low)
    return defaults


def _wait_scaled(model_id: int, low: int, high: int, timeout: float = 30.0) -> bool:
    """Until every live serving process holding the model runs low..high instances."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope() as session:
            held = deployments.instances(session, model_queries.get_by_id(session, model_id))
        if held and all(low <= h["instances"] <= high for h in held):
            return True
        time.sleep(0.2)
    return False


@bp.put("/models/<name>/<version>/set-default")
@documented(Op("Set the default version (TorchServe)", MMS, {200: f.TorchServeStatus}, (404,)))
def set_default(name: str, version: str):
    with session_scope() as session:
        model_queries.set_default(session, name, version)
    return f.TorchServeStatus(status=f"Default version successfully updated for model \"{name}\" to \"{version}\"")


@bp.delete("/models/<name>")
@bp.delete("/models/<name>/<version>")
@documented(Op("Unregister a model (TorchServe)", MMS, {200: f.TorchServeStatus}, (404,)))
def unregister(name: str, version: str | None = None):
    with session_scope() as session:
        model_queries.delete(session, name, version)
    what = f"Model \"{name}\"" + (f" version: {version}" if version else "")
    return f.TorchServeStatus(status=f"{what} unregistered")
