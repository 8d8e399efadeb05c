"""MXServer's endpoints on trainyard's pipeline: POST /train, POST /eval (also /test, where
MXServer's own test resources post evaluations), POST /stop.

/train and /eval take MXServer's wrapped body ``{"task_id": ..., "task_desc": <JSON string or
object>}``, its bare ``task_desc`` object, or trainyard's flat request (``contracts.mxserver_request``).
A client's ``task_id`` is kept when it is free (409 when taken). A task or dataset of a project
the caller may not see reads as one that does not exist in every answer. Tasks they create are ordinary
task rows (backend "mxnet", the MXNet queue). Replies keep MXServer's shape:
``{"task_id", "state_code", "state_desc"}``, state_code "0" when the call did what it was asked
and "1" when it did not (``app.mxserver_states`` has the task states shown while a task runs):

| state_desc                   | code | HTTP | when                                                      |
| ---------------------------- | ---- | ---- | --------------------------------------------------------- |
| OK_TO_RUN                    | 0    | 200  | /train or /eval accepted: the task is QUEUED and placed   |
|                              |      |      | like new_task's (the GPU with most free memory), or waits |
| TASK_DESC_INVALID            | 1    | 422  | (trainyard) fields refused: ``errors: [{field, problem}]``|
|                              |      |      | naming MXServer's field paths; nothing written            |
| TASK_ID_EXISTS               | 1    | 409  | (trainyard) the client's task_id is taken, by any task:   |
|                              |      |      | ids are global; nothing more of the task is said          |
| TASK_TERMINATED_SUCCESSFULLY | 0    | 200  | /stop: the task is STOPPED, or STOPPING (its worker stops |
|                              |      |      | at its next batch); also for a task already STOPPED       |
| TASK_NOT_EXIST               | 1    | 404  | /stop names no task                                       |
| TASK_TERMINATED_FAILED       | 1    | 409  | /stop on a task that already SUCCEEDED or FAILED          |
| FULL_QUEUE                   | 1    | —    | never sent: trainyard queues every valid request, and a   |
|                              |      |      | broker outage only delays dispatch (the reaper sends it)  |
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError

from app.api.requests import json_body
from app.auth.submit import project_for_submit, visible_task
from webcommon.errors import ApiError, field_errors, pydantic_problems
from app.usecases import submit
from app.usecases.stop import stop_task
from app.usecases.mx_checks import check_datasets, check_lineage, check_network, check_parent, contract_problems
from app.mxserver_translate import Translated, find_checkpoint, shape_problems, translate_test, translate_train
from contracts.mxserver_request import ClientTaskId, EvalRequest, StopRequest, TrainRequest, param_set, requirements
from app.schemas.mxserver_desc import Checkpoint, TestDesc, TrainDesc, is_mxserver_desc
from dao.db import session_scope
from dao.errors import InvalidTransition, TaskNotFound
from dao.tables import Task
from contracts.statuses import TaskStatus
from contracts.catalog import ModelInfo, find_model
from tasks.publish import queue_for
from contracts import foreign_replies as f
from contracts import replies as r
from app.api.requests import JSON_ERRORS
from webcommon.openapi.common import MX
from webcommon.openapi.spec_types import Op, documented

bp = Blueprint("mxserver", __name__)
OK, FAILED = "0", "1"
_CLIENT_ID = TypeAdapter(ClientTaskId)


def _state(task_id: str, code: str, desc: str, http: int = 200, **extra):  # noqa: ANN202
    return f.MxState(task_id=task_id, state_code=code, state_desc=desc, **extra), http


def _refused(task_id: str | None, problems: list[tuple[str, str]]) -> ApiError:
    return ApiError(422, "the request has invalid fields", field_errors(problems), task_id=task_id or "",
                    state_code=FAILED, state_desc="TASK_DESC_INVALID")


@bp.post("/train")
@documented(Op("Train (MXServer)", MX, {200: f.MxState}, (*JSON_ERRORS, 409, 422),
                body=(TrainRequest, TrainDesc, r.Open)))
def train():
    return _handle(json_body(any_content_type=True), training=True)


@bp.post("/eval")
@bp.post("/test")
@documented(Op("Evaluate a trained task (MXServer)", MX, {200: f.MxState}, (*JSON_ERRORS, 409, 422),
                body=(EvalRequest, TestDesc, r.Open)))
def evaluate():
    return _handle(json_body(any_content_type=True), training=False)


def _unwrap(body: dict[str, Any]) -> tuple[str | None, dict[str, Any], str]:
    """(client task id, the request, the field prefix its problems take). Raises ApiError 422."""
    body = dict(body)
    raw_id = body.pop("task_id", None)
    prefix, desc = "", body
    if "task_desc" in body:
        prefix, desc = "task_desc.", body.pop("task_desc")
        problems = [(k, "is not a known field beside task_id and task_desc") for k in body]
        if isinstance(desc, str):
            try:
                desc = json.loads(desc)
            except ValueError:
                problems.append(("task_desc", "is not valid JSON"))
        if not isinstance(desc, dict) and not problems:
            problems.append(("task_desc", "must be a JSON object (or a string holding one)"))
        if problems:
            raise _refused(None, problems)
    return _client_id(raw_id), desc, prefix


def _client_id(raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    try:
        return _CLIENT_ID.validate_python(raw)
    except ValidationError:
        raise _refused(None, [("task_id", "must be 1-40 letters, digits, '_', '-' or '.', starting with a "
                                          "letter or digit")]) from None


def _handle(body: dict[str, Any], training: bool):  # noqa: ANN202
    task_id, desc, prefix = _unwrap(body)
    nested = is_mxserver_desc(desc)
    try:
        with session_scope() as session:
            if task_id is not None and session.get(Task, task_id) is not None:
                raise _taken(task_id)
            tr, req, problems = (_nested if nested else _flat)(session, desc, training)
            if req is not None:
                problems += _checks(session, req, tr)
            if problems:
                raise _refused(task_id, tr.rename(problems, prefix))
            row = _row(req, tr, desc if nested else None)
            _access(session, row, tr, task_id, prefix)
            queued = submit.queue(session, row, task_id)
    except IntegrityError:
        raise _taken(task_id) from None
    submit.send_after_commit(queued)
    return _state(queued.task_id, OK, "OK_TO_RUN")


def _access(session, row: dict, tr: Translated, task_id: str | None, prefix: str) -> None:  # noqa: ANN001
    """The project the task goes into (a service admin's new proj_id creates it). Its parent and
    datasets were looked up among the caller's projects only (a hidden one read as missing).
    Raises ApiError 422 (403 for a viewer or a read-only token)."""
    try:
        project_for_submit(session, row["proj_id"], row["proj_name"])
    except ApiError as exc:
        if exc.status != 422:
            raise
        raise _refused(task_id, tr.rename([("proj_id", exc.errors[0]["problem"])], prefix)) from None


def _taken(task_id: str | None) -> ApiError:
    return ApiError(409, f"task id {task_id!r} is taken", [{"field": "task_id", "problem": "is taken by another task"}],
                    task_id=task_id or "", state_code=FAILED, state_desc="TASK_ID_EXISTS")


def _validated(model: type[BaseModel], data: dict[str, Any]) -> tuple[BaseModel | None, list]:
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, pydantic_problems(exc)


def _nested(session, desc: dict[str, Any], training: bool):  # noqa: ANN001, ANN202
    """MXServer's own body: shape, then translation (with its look-ups), then the flat shape."""
    parsed, problems = _validated(TrainDesc if training else TestDesc, desc)
    if parsed is None:
        return Translated({}, {}, {}), None, problems
    tr = (translate_train if training else translate_test)(session, parsed)
    req, flat_problems = _validated(TrainRequest if training else EvalRequest, tr.flat)
    return tr, req, tr.problems + flat_problems


def _flat(session, desc: dict[str, Any], training: bool):  # noqa: ANN001, ANN202
    req, problems = _validated(TrainRequest if training else EvalRequest, desc)
    tr = Translated(desc, {}, {})
    if isinstance(req, EvalRequest) and req.checkpoint_epoch is not None:
        tr.parent = find_checkpoint(session, Checkpoint(prefix=req.trained_task_id, epoch=req.checkpoint_epoch),
                                    "checkpoint", problems)
        problems = [(f.replace("checkpoint.prefix", "trained_task_id").replace("checkpoint.epoch", "checkpoint_epoch"), p)
                    for f, p in problems]
        if tr.parent is None:
            return tr, None, problems
    return tr, req, problems


def _checks(session, req: TrainRequest | EvalRequest, tr: Translated) -> list[tuple[str, str]]:  # noqa: ANN001
    """The request against the database: network, datasets, the parent whose weights it uses."""
    network, problems = _network(session, req)
    shape, data_problems = check_datasets(session, req, network)
    problems += data_problems
    parent = tr.parent
    if parent is not None:  # a kept checkpoint (resume, or evaluation by epoch), of any state
        problems += contract_problems(parent, network, shape)
    elif not tr.parent_missing:
        parent, parent_problems = check_parent(session, req.trained_task_id, network, shape, _task_type(req))
        problems += parent_problems
    if tr.desc is not None:
        problems += shape_problems(tr.desc, shape, parent)
    if network is None and not problems and not tr.parent_missing:
        problems.append(("trained_task_id", "its model is not an MXNet network"))
    if not problems:
        problems += check_lineage(session, req, parent)
    tr.network = network
    return problems


def _network(session, req: TrainRequest | EvalRequest) -> tuple[ModelInfo | None, list]:  # noqa: ANN001
    """/train names its network; /eval uses the network of the task it evaluates."""
    if isinstance(req, TrainRequest):
        return check_network(req.network, req.target)
    parent = visible_task(session, req.trained_task_id)
    return (None if parent is None else find_model(parent.model)), []


def _form(req: TrainRequest | EvalRequest, tr: Translated, task_type: str, original: dict | None) -> dict:
    """The stored form: new_task's field names, so the task views and the dataset-in-use
    check read it as they read any task; MXServer's hyper-parameters in param_set, and its
    original request when it sent its own shape."""
    data = req.model_dump(mode="json")
    form = {"source": "mxserver", "proj_id": req.proj_id, "proj_name": req.proj_name,
            "task_name": req.task_name, "task_type": task_type,
            "train_data": data.get("train_data", []), "val_data": data.get("val_data", []),
            "enable_test": bool(data.get("test_data")), "test_data": data.get("test_data", []),
            "model": tr.network.name, "param_set": param_set(req) | tr.extra, "context": data["context"],
            "allow_seen_test": req.allow_seen_test, "skip_baseline": getattr(req, "skip_baseline", False),
            "requirements": requirements(req)}
    if original is not None:
        form["mxserver_request"] = original
    return form


def _task_type(req: TrainRequest | EvalRequest) -> str:
    return "dl_ev" if isinstance(req, EvalRequest) else ("dl_ft" if req.trained_task_id else "dl_ts")


def _row(req: TrainRequest | EvalRequest, tr: Translated, original: dict | None) -> dict:
    task_type = _task_type(req)
    return dict(
        proj_id=req.proj_id, proj_name=req.proj_name, task_name=req.task_name,
        task_type=task_type, model=tr.network.name, backend="mxnet", queue=queue_for("mxnet"),
        form=_form(req, tr, task_type, original),
        epochs_total=0 if task_type == "dl_ev" else req.num_epoch,
        parent_task_id=req.trained_task_id,
    )


@bp.post("/stop")
@documented(Op("Stop a task (MXServer)", MX, {200: f.MxState, 404: f.MxState, 409: f.MxState}, (*JSON_ERRORS, 422),
                body=StopRequest))
def stop():
    req = StopRequest.model_validate(json_body(any_content_type=True))
    try:
        status = stop_task(req.task_id)
    except TaskNotFound:
        return _state(req.task_id, FAILED, "TASK_NOT_EXIST", 404)
    except InvalidTransition as exc:
        if exc.status == TaskStatus.STOPPED.value:
            return _state(req.task_id, OK, "TASK_TERMINATED_SUCCESSFULLY", status=exc.status)
        return _state(req.task_id, FAILED, "TASK_TERMINATED_FAILED", 409, status=exc.status)
    return _state(req.task_id, OK, "TASK_TERMINATED_SUCCESSFULLY", status=status)
