"""``POST /api/v0/tasks/<id>/deploy``: a SUCCEEDED torch or MXNet task becomes a served model; a
worker of its backend exports it to ONNX and verifies it (the row is EXPORTING until then)."""

from __future__ import annotations

from flask import Blueprint, request

from app.usecases import deployments
from app.api.requests import json_body
from app.schemas.deploy import DeployForm
from dao import model_queries
from dao.db import session_scope
from contracts import replies as r
from app.api.requests import JSON_ERRORS
from webcommon.openapi.common import MODELS
from webcommon.openapi.spec_types import Op, documented

bp = Blueprint("deploy", __name__, url_prefix="/api/v0")


@bp.post("/tasks/<task_id>/deploy")
@documented(Op("Serve a SUCCEEDED task's model (exported to ONNX by a worker)", MODELS, {202: r.DeployReply},
                (*JSON_ERRORS, 404, 409, 422), body=DeployForm, body_required=False))
def deploy(task_id: str):
    form = DeployForm.model_validate(json_body() if request.content_length else {})
    with session_scope() as session:
        row = deployments.register_task(session, task_id, form.name, form.version, form, form.description)
        model_id, name = row.id, row.name
    deployments.start_export(model_id)
    with session_scope() as session:
        described = deployments.describe(session, model_queries.get_by_id(session, model_id))
    return r.DeployReply(error_num=0, msg="deploying: a worker exports the model to ONNX and verifies it",
                         model=described,
                         links=r.DeployLinks(status=f"/models/{name}", predict=f"/api/v0/models/{name}/predict",
                                             kserve=f"/v2/models/{name}/infer")), 202
