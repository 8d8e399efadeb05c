"""Fractal ML server's model routes on the control plane: list, information, describe, upload
an ONNX file (``PUT`` multipart ``path=@model.onnx``), edit the description (``POST``
``{"model_description"}``), delete. Answers in Fractal's ``{"http_status": {code, name,
description}}`` envelope. (Its ``/prediction`` route is on the serving role.)"""

from __future__ import annotations

import re
from typing import BinaryIO

from flask import Blueprint, request
from werkzeug.exceptions import RequestEntityTooLarge

from app import uploads
from app.usecases import deployments
from app.api.requests import json_body
from app.errors import register_model_errors
from webcommon.errors import ApiError
from app.onnx_upload import check_onnx
from contracts.serving_settings import NAME, ServingSettings
from webcommon.principal import can_see
from app.auth.submit import owner_for_upload
from dao import auth_queries, model_queries
from dao.db import session_scope
from contracts import foreign_replies as f
from contracts import replies as r
from app.api.requests import JSON_ERRORS
from webcommon.openapi.common import FRACTAL
from webcommon.openapi.spec_types import Op, Raw, documented

bp = Blueprint("fractal_models", __name__, url_prefix="/api/v1/models")
NAMES = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 409: "Conflict",
         413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity",
         503: "Service Unavailable"}
ONNX_UPLOAD = Raw("multipart/form-data", {  # what upload reads, for the OpenAPI document
    "type": "object", "required": ["path"],
    "properties": {"path": {"type": "string", "format": "binary", "description": "the .onnx file"},
                   "description": {"type": "string", "maxLength": 2000}}})


def envelope(code: int, description: str, shape: type[f.FractalReply] = f.FractalReply,  # noqa: ANN201
             **fields):  # noqa: ANN003
    """(Fractal's envelope as ``shape``, the status): ``http_status`` and ``fields``."""
    status = f.FractalStatus(code=code, name=NAMES.get(code, "Error"), description=description)
    return shape(http_status=status, **fields), code


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return envelope(exc.status, exc.msg, **({"errors": exc.errors} if exc.errors else {}))


register_model_errors(bp, envelope)


@bp.get("")
@documented(Op("Model names (Fractal)", FRACTAL, {200: f.FractalNames}))
def list_names():
    with session_scope() as session:
        names = sorted({r.name for r in model_queries.list_models(session) if can_see(r.project_id)})
    return envelope(200, "OK", f.FractalNames, model_list=names)


@bp.get("/information")
@documented(Op("Models with their descriptions (Fractal)", FRACTAL, {200: f.FractalInformation}))
def information():
    with session_scope() as session:
        rows = [r for r in model_queries.list_models(session) if r.is_default and can_see(r.project_id)]
        listed = [f.FractalInfo(model=m.name, description=m.description, version=m.version, status=m.status)
                  for m in rows]
    return envelope(200, "OK", f.FractalInformation, model_list=listed)


@bp.get("/<name>")
@documented(Op("Describe a model (Fractal)", FRACTAL, {200: f.FractalModel}, (404,)))
def describe(name: str):
    with session_scope() as session:
        row = model_queries.get(session, name)
        versions = [r.version for r in model_queries.versions(session, name)]
        return envelope(200, "OK", f.FractalModel, model=deployments.describe(session, row), versions=versions)


@bp.post("/<name>")
@documented(Op("Edit a model's description (Fractal)", FRACTAL, {200: f.FractalReply}, (*JSON_ERRORS, 404, 422),
                body=r.Open))
def edit_description(name: str):
    body = json_body()
    text = body.get("model_description")
    if not isinstance(text, str) or len(text) > 2000:
        raise ApiError(422, "model_description: a string of at most 2000 characters is required",
                       [{"field": "model_description", "problem": "a string of at most 2000 characters is required"}])
    with session_scope() as session:
        for row in model_queries.versions(session, name):
            row.description = text
    return envelope(200, "Model description updated")


@bp.put("/<name>")
@documented(Op("Upload an ONNX model (Fractal)", FRACTAL, {201: f.FractalModel}, (404, 413, 422), body=ONNX_UPLOAD,
                description="An existing name gets a new version, in its project; "
                            "a name of a project the caller cannot see is 404."))
def upload(name: str):
    if not re.match(NAME, name):
        raise ApiError(422, f"model name {name!r} must be 1-200 letters, digits, '.', '_' or '-'")
    filename, upload = _uploaded()
    signature = check_onnx(upload.read(), deployments.upload_limit_mb())  # its bytes go after the check
    size = uploads.size_of(upload)  # and the file is streamed to the blob store from its start
    description = request.form.get("description", "")[:2000]
    with session_scope() as session:
        existing = auth_queries.project_of_model(session, name)
        project = existing if existing is not auth_queries.MISSING else \
            owner_for_upload(session, (request.form.get("proj_id") or request.args.get("proj_id") or "").strip() or None)
        uploads.within_quota(session, project, size)
        row = deployments.register_upload(session, name, filename, upload, signature, ServingSettings(), description,
                                          project=project)
        described = deployments.describe(session, row)
    return envelope(201, "Model uploaded", f.FractalModel, model=described)


def _uploaded() -> tuple[str, BinaryIO]:
    """The uploaded file's name and the request's file (spooled to disk when large) at its start."""
    try:
        storage = request.files.get("path") or next(iter(request.files.values()), None)
    except RequestEntityTooLarge:
        raise ApiError(413, "the upload is too large") from None
    if storage is None:
        raise ApiError(422, "path: upload the ONNX file as multipart form field 'path' (-F path=@model.onnx)",
                       [{"field": "path", "problem": "is required"}])
    limit = deployments.upload_limit_mb()
    if uploads.size_of(storage.stream) > limit * 1024 * 1024:  # spooled to disk: refused unread
        raise ApiError(413, f"the ONNX file is larger than {limit} MiB")
    return storage.filename or "model.onnx", storage.stream


@bp.delete("/<name>")
@documented(Op("Delete a model (Fractal)", FRACTAL, {200: f.FractalReply}, (404,)))
def delete(name: str):
    with session_scope() as session:
        model_queries.delete(session, name)
    return envelope(200, "Model deleted")
