"""MXServer's endpoints on trainyard's pipeline: POST /train, POST /eval, POST /stop.

Tasks they create are ordinary task rows (backend "mxnet", the MXNet queue), listed by
/api/v0/tasks with their epochs like any other. Replies keep MXServer's shape:
``{"task_id", "state_code", "state_desc"}``, where state_code "0" means the call did what it was
asked and "1" that it did not. The state names (MXServer's table):

| state_desc                   | code | HTTP | when                                                      |
| ---------------------------- | ---- | ---- | --------------------------------------------------------- |
| OK_TO_RUN                    | 0    | 200  | /train or /eval accepted: the task is QUEUED and placed   |
|                              |      |      | like new_task's (the GPU with most free memory), or waits |
| TASK_TERMINATED_SUCCESSFULLY | 0    | 200  | /stop: the task is STOPPED, or STOPPING (its worker stops |
|                              |      |      | at its next batch); also for a task already STOPPED       |
| TASK_NOT_EXIST               | 1    | 404  | /stop names no task                                       |
| TASK_TERMINATED_FAILED       | 1    | 409  | /stop on a task that already SUCCEEDED or FAILED          |
| FULL_QUEUE                   | 1    | —    | never sent: trainyard queues every valid request, and a   |
|                              |      |      | broker outage only delays dispatch (the reaper sends it)  |

A request with bad fields gets new_task's answer: 422 and ``errors: [{field, problem}]``,
nothing written.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from app.api.requests import json_body
from app.errors import invalid
from app.mx_checks import check_datasets, check_lineage, check_network, check_parent
from app.schemas.mxserver import EvalRequest, StopRequest, TrainRequest, param_set, requirements
from dao import task_queries
from dao.db import session_scope
from dao.errors import InvalidTransition, TaskNotFound
from dao.tables import Task, TaskStatus
from models.catalog import ModelInfo, find_model
from tasks.dispatch import queue_new_task, send
from tasks.publish import queue_for

bp = Blueprint("mxserver", __name__)
OK, FAILED = "0", "1"


def _state(task_id: str, code: str, desc: str, http: int = 200, **extra):  # noqa: ANN202
    return jsonify({"task_id": task_id, "state_code": code, "state_desc": desc, **extra}), http


@bp.post("/train")
def train():
    req = TrainRequest.model_validate(json_body())
    return _submit(req, "dl_ft" if req.trained_task_id else "dl_ts")


@bp.post("/eval")
def evaluate():
    return _submit(EvalRequest.model_validate(json_body()), "dl_ev")


def _submit(req: TrainRequest | EvalRequest, task_type: str):  # noqa: ANN202
    """Check, insert, commit, then publish. Raises ApiError 422 naming every bad field."""
    with session_scope() as session:
        network, problems = _network(session, req)
        shape, data_problems = check_datasets(session, req)
        parent, parent_problems = check_parent(session, req.trained_task_id, network, shape)
        problems += data_problems + parent_problems
        if network is None and not problems:
            problems.append(("trained_task_id", "its model is not an MXNet network"))
        if not problems:
            problems += check_lineage(session, req, parent)
        if problems:
            raise invalid(problems, "the request has invalid fields")
        task_id, sendable, _waiting = queue_new_task(session, **_row(req, task_type, network.name, parent))
    if sendable is not None:
        send(sendable)  # False: the broker is away; the dispatcher's sweep sends it later
    return _state(task_id, OK, "OK_TO_RUN")


def _network(session, req: TrainRequest | EvalRequest) -> tuple[ModelInfo | None, list]:  # noqa: ANN001
    """/train names its network; /eval uses the network of the task it evaluates."""
    if isinstance(req, TrainRequest):
        return check_network(req.network)
    parent = session.get(Task, req.trained_task_id)
    return (None if parent is None else find_model(parent.model)), []


def _form(req: TrainRequest | EvalRequest, task_type: str, network: str) -> dict:
    """The stored form: new_task's field names, so the task views and the dataset-in-use
    check read it as they read any task; MXServer's hyper-parameters in param_set."""
    data = req.model_dump(mode="json")
    return {"source": "mxserver", "proj_id": req.proj_id, "proj_name": req.proj_name,
            "task_name": req.task_name, "task_type": task_type,
            "train_data": data.get("train_data", []), "val_data": data.get("val_data", []),
            "enable_test": bool(data.get("test_data")), "test_data": data.get("test_data", []),
            "model": network, "param_set": param_set(req), "context": data["context"],
            "allow_seen_test": req.allow_seen_test,
            "requirements": requirements(req)}


def _row(req, task_type: str, network: str, parent: Task | None) -> dict:  # noqa: ANN001
    return dict(
        proj_id=req.proj_id, proj_name=req.proj_name, task_name=req.task_name,
        task_type=task_type, model=network, backend="mxnet", queue=queue_for("mxnet"),
        form=_form(req, task_type, network),
        epochs_total=0 if task_type == "dl_ev" else req.num_epoch,
        parent_task_id=None if parent is None else parent.id,
    )


@bp.post("/stop")
def stop():
    req = StopRequest.model_validate(json_body())
    try:
        with session_scope() as session:
            status = task_queries.request_stop(session, req.task_id)
    except TaskNotFound:
        return _state(req.task_id, FAILED, "TASK_NOT_EXIST", 404)
    except InvalidTransition as exc:
        if exc.status == TaskStatus.STOPPED.value:
            return _state(req.task_id, OK, "TASK_TERMINATED_SUCCESSFULLY", status=exc.status)
        return _state(req.task_id, FAILED, "TASK_TERMINATED_FAILED", 409, status=exc.status)
    return _state(req.task_id, OK, "TASK_TERMINATED_SUCCESSFULLY", status=status)
