"""Tasks: submit (new_task), poll, history, list and compare, stop, download the model."""

from __future__ import annotations

import logging

from flask import Blueprint, request

from app.api.requests import bad_query, choice_arg, int_arg, json_body
from app.api.task_poll import poll_task
from webcommon.guard import checks_own_project
from webcommon.principal import visible_projects
from app.auth.submit import project_for_submit
from webcommon.errors import ApiError, invalid
from app.usecases import submit
from app.usecases.form_checks import CheckedForm, check_form
from app.usecases.stop import stop_message, stop_task
from contracts.param_grid import epochs_per_fold
from contracts.task_form import NewTaskForm
from app.schemas.task_view import summary
from dao import artifact_queries, epoch_queries, task_queries
from dao.db import session_scope
from contracts.statuses import TaskStatus
from dao.task_listing import BadCursor, TaskFilter, list_tasks
from contracts.selection import sort_warning
from contracts.task_result import METRIC_FIELDS
from tasks.publish import queue_for
from contracts import replies as r
from app.api.requests import JSON_ERRORS
from webcommon.openapi.common import BINARY, NOT_MODIFIED, PNG, REDIRECT, TASKS
from app.api.downloads import REDIRECT_DESCRIPTION, REDIRECT_PARAM, artifact_download
from webcommon.openapi.spec_types import Op, Param, choice, documented, integer, number, string

bp = Blueprint("tasks", __name__, url_prefix="/api/v0")
log = logging.getLogger(__name__)
STATUSES = {s.value for s in TaskStatus}
WEIGHT_FORMATS = {
    "torch": {
        "format": "safetensors", "suffix": ".safetensors",
        "how_to_load": "models.engine.load_network(open(path, 'rb').read()) rebuilds the network "
                       "from the metadata in the file's safetensors header; "
                       "safetensors.torch.load_file(path) gives the raw tensors.",
    },
    "mxnet": {
        "format": "trainyard MXNet checkpoint (zip of meta.json, Gluon params, trainer states)",
        "suffix": ".zip",
        "how_to_load": "models.mxnet_backend.checkpoint.unpack_checkpoint(blob) gives the meta and "
                       "params; build the network with models.mxnet_backend.networks.build_network "
                       "and load them with checkpoint.load_params(net, ckpt.params, mx.cpu()).",
    },
}


@bp.post("/new_task")
@bp.post("/new_sgn_task")  # NEURO-LEARN's newer route for the same form
@documented(Op(
    "Submit a task (NEURO-LEARN's form)", TASKS, {201: r.NewTaskReply}, (*JSON_ERRORS, 422), body=NewTaskForm,
    description="A JSON body is read whatever its Content-Type says (NEURO-LEARN's client labels it "
                "form-urlencoded)."))
def new_task():
    form = NewTaskForm.model_validate(json_body(any_content_type=True))
    with session_scope() as session:
        project_for_submit(session, form.proj_id, form.proj_name)
        checked, problems = check_form(session, form)
        if problems:
            raise invalid(problems)
        row = _row(checked)
        queued = submit.queue(session, row)
    msg = submit.send_after_commit(queued)
    task_form = r.TaskForm(**{**row["form"], "model": form.model, "task_id": queued.task_id})
    return r.NewTaskReply(error_num=0, msg=msg, task_form=task_form), 201


def _row(checked: CheckedForm) -> dict:
    form = checked.form
    stored = form.model_dump(mode="json")
    stored["model"] = checked.model.name
    return dict(
        proj_id=form.proj_id, proj_name=form.proj_name, task_name=form.task_name,
        task_type=form.task_type, model=checked.model.name, backend=checked.model.backend,
        queue=queue_for(checked.model.backend), form=stored,
        epochs_total=0 if form.task_type == "dl_ev" else
        (epochs_per_fold(form.param_set.epochs, form.param_grid) if checked.model.iterative else 1) * checked.folds,
        parent_task_id=None if checked.parent is None else checked.parent.id,
        sweep_id=form.sweep_id,
    )


@bp.get("/tasks/<task_id>")
@documented(Op(
    "Poll a task", TASKS, {200: (r.TaskLight, r.TaskFull), 304: NOT_MODIFIED}, (404,),
    query=(Param("view", choice("light", "full")),
           Param("wait", number(0, 60), description="seconds to wait for a change of the If-None-Match ETag"),
           Param("If-None-Match", string(), "header"))))
@checks_own_project("task_id")
def get_task(task_id: str):
    return poll_task(task_id)


@bp.get("/tasks/<task_id>/epochs")
@documented(Op("A task's epochs", TASKS, {200: r.Epochs}, (404,)))
def get_epochs(task_id: str):
    with session_scope() as session:
        task = task_queries.get_task(session, task_id)
        epochs = [row.metrics | {"attempt": row.attempt} for row in epoch_queries.list_epochs(session, task_id)]
        return r.Epochs(task_id=task_id, status=task.status, epochs=epochs)


@bp.get("/tasks")
@documented(Op(
    "List tasks, filtered and sorted, a page at a time", TASKS, {200: r.TaskPage},
    query=(Param("proj_id", string()), Param("status", choice(*r.Status.__args__)),
           Param("model", string()), Param("task_type", string()), Param("sweep_id", string()),
           Param("dataset", string(), description="named in any role (train, val or test)"),
           Param("parent", string(), description="the task it fine-tunes or evaluates"),
           Param("limit", integer(1, 500)),
           Param("sort", string(), description="-created_at (default), created_at, or ±a sortable metric"),
           Param("cursor", string()))))
def list_all():
    flt = TaskFilter(**{k: request.args.get(k) or None
                        for k in ("proj_id", "status", "model", "task_type", "sweep_id", "dataset", "parent")},
                     projects=visible_projects())
    if flt.status is not None and flt.status not in STATUSES:
        raise bad_query("status", f"must be one of {', '.join(sorted(STATUSES))}")
    limit = int_arg("limit", 50, 1, 500)
    sort = request.args.get("sort") or "-created_at"
    with session_scope() as session:
        try:
            page = list_tasks(session, flt, sort=sort, limit=limit, cursor=request.args.get("cursor"),
                              sortable=METRIC_FIELDS)
        except BadCursor as exc:
            raise bad_query("cursor", str(exc)) from None
        except ValueError as exc:
            raise bad_query("sort", str(exc)) from None
        return r.TaskPage(tasks=[summary(t) for t in page.tasks], next_cursor=page.next_cursor, sort=sort,
                          limit=limit, selection_warning=sort_warning(sort) if flt.sweep_id else None)


@bp.post("/tasks/<task_id>/stop")
@documented(Op("Stop a task", TASKS, {200: r.StopReply}, (404, 409)))
def stop(task_id: str):
    status = stop_task(task_id)
    return r.StopReply(error_num=0, msg=stop_message(status), task_id=task_id, status=status)


@bp.get("/tasks/<task_id>/model")
@documented(Op("Download a task's weights", TASKS, {200: BINARY, 302: REDIRECT}, (404,),
                query=(Param("kind", choice("weights", "best_weights")), REDIRECT_PARAM),
                description=REDIRECT_DESCRIPTION))
def download_model(task_id: str):
    with session_scope() as session:
        task = task_queries.get_task(session, task_id)
        kind = choice_arg("kind", artifact_queries.WEIGHTS, (artifact_queries.WEIGHTS, artifact_queries.BEST_WEIGHTS))
        row = artifact_queries.get_artifact(session, task_id, kind)
        if row is None:
            raise ApiError(404, f"task {task_id!r} has no stored {kind} (it is {task.status})")
        suffix = WEIGHT_FORMATS[task.backend]["suffix"]
        return artifact_download(row, "application/octet-stream", f"{task_id}-{kind}{suffix}")


@bp.get("/tasks/<task_id>/model/info")
@documented(Op("How to load a task's weights", TASKS, {200: r.ModelInfo}, (404,)))
def model_info(task_id: str):
    with session_scope() as session:
        task = task_queries.get_task(session, task_id)
        rows = {r.kind: r for r in artifact_queries.list_artifacts(session, task_id)}
        weights = rows.get(artifact_queries.WEIGHTS)
        if weights is None:
            raise ApiError(404, f"task {task_id!r} has no stored weights (it is {task.status})")
        return r.ModelInfo(
            task_id=task_id, model=task.model, backend=task.backend,
            format=WEIGHT_FORMATS[task.backend]["format"],
            size=weights.size, sha256=weights.sha256,
            contract=(task.result or {}).get("contract"),
            param_set=task.form.get("param_set"),
            download=f"/api/v0/tasks/{task_id}/model",
            how_to_load=WEIGHT_FORMATS[task.backend]["how_to_load"],
        )


@bp.get("/tasks/<task_id>/plots/<name>.png")
@documented(Op("A task's curves or confusion picture", TASKS, {200: PNG, 302: REDIRECT}, (404,),
                query=(REDIRECT_PARAM,), description=REDIRECT_DESCRIPTION))
def plot(task_id: str, name: str):
    with session_scope() as session:
        task_queries.get_task(session, task_id)
        row = artifact_queries.get_artifact(session, task_id, f"{name}_png")
        if row is None:
            raise ApiError(404, f"task {task_id!r} has no {name} picture")
        return artifact_download(row, "image/png")
