"""What another project's objects look like through the routes that name them in a body or a
query (the guard checks only what a URL names): MMS registration from a task or a model, and
MXServer's /train and /eval. A viewer may not publish a served model; a foreign task or dataset
is answered exactly as a made-up one, so no answer tells that it exists or what it holds."""

from __future__ import annotations

import pytest

from dao import artifact_queries, task_queries
from dao.db import session_scope
from contracts.statuses import TaskStatus
from tests.app.inprocess import in_process_api
from tests.service.mxserver_requests import eval_request, train_request
from tests.serving.onnx_builders import linear_model

SECRET_PREFIX = "secret-run"


@pytest.fixture(scope="module")
def api():
    """Projects A (carol views, dave edits) and B (bob edits); B holds a finished MXNet task
    with weights and checkpoints of epochs 1 and 2, A a finished torch task with weights."""
    with in_process_api() as api:
        for project in ("A", "B"):
            api.project(project)
        api.carol = api.member_token("A", "carol", "viewer")
        api.dave = api.member_token("A", "dave", "editor")
        api.bob = api.member_token("B", "bob", "editor")
        api.task_a = _finished_task("A", "torch", "GNN")
        api.task_b = _finished_task("B", "mxnet", "small-cnn", checkpoints=(1, 2))
        yield api


def _finished_task(project: str, backend: str, model: str, checkpoints: tuple[int, ...] = ()) -> str:
    """A SUCCEEDED task row with stored weights, as a worker leaves one."""
    form = {"train_data": ["demo_shapes_28"], "val_data": [], "test_data": [],
            "param_set": {"save_prefix": SECRET_PREFIX}}
    with session_scope() as session:
        task_id = task_queries.insert_new_task(
            session, proj_id=project, proj_name=project, task_name="done", task_type="dl_ts", model=model,
            backend=backend, queue=backend, form=form, epochs_total=2, epochs_done=2,
            status=TaskStatus.SUCCEEDED.value,
            result={"contract": {"model": model, "class_names": ["circle", "square", "triangle", "cross"]}})
        artifact_queries.save_artifact(session, task_id, artifact_queries.WEIGHTS, b"weights")
        for epoch in checkpoints:
            artifact_queries.save_artifact(session, task_id, artifact_queries.epoch_checkpoint_kind(epoch),
                                           b"checkpoint", epoch=epoch)
    return task_id


def test_a_viewer_cannot_register_a_served_model_through_mms(api):
    for url in (f"task:{api.task_a}", api.task_a):
        r = api.post("/models", query_string={"url": url, "model_name": "by-carol", "initial_workers": 1},
                     headers=api.carol)
        assert r.status_code == 403 and r.json["type"] == "ForbiddenException", r.text
    r = api.post(f"/api/v0/tasks/{api.task_a}/deploy", headers=api.carol)
    assert r.status_code == 403, r.text
    assert api.get("/models/by-carol", headers=api.dave).status_code == 404


def test_another_projects_task_is_not_found_through_mms(api):
    foreign = api.post("/models", query_string={"url": f"task:{api.task_b}"}, headers=api.dave)
    made_up = api.post("/models", query_string={"url": "task:TASK-MADE-UP"}, headers=api.dave)
    assert foreign.status_code == made_up.status_code == 404, foreign.text
    assert foreign.text.replace(api.task_b, "X") == made_up.text.replace("TASK-MADE-UP", "X")


def test_a_registration_is_audited_with_its_project_and_model(api):
    r = api.post("/models", query_string={"url": f"task:{api.task_a}", "model_name": "by-dave"}, headers=api.dave)
    assert r.status_code == 202, r.text
    entries = [e for e in api.audit() if e["action"] == "mms_management.register"]
    assert [(e["proj_id"], e["target"]) for e in entries] == [("A", "model=by-dave/1")], entries


def _same_answer(api, body_for, foreign: str, made_up: str, path: str) -> None:
    """The answers to ``body_for(foreign)`` and ``body_for(made_up)`` differ only by the id."""
    theirs = api.post(path, json=body_for(foreign), headers=api.dave)
    unknown = api.post(path, json=body_for(made_up), headers=api.dave)
    assert theirs.status_code == unknown.status_code == 422, theirs.text
    assert theirs.text.replace(foreign, "X") == unknown.text.replace(made_up, "X")
    assert "epoch" not in theirs.text or "kept" not in theirs.text


@pytest.mark.parametrize("path, body_for", [
    ("/eval", lambda t: {"trained_task_id": t, "test_data": ["demo_shapes_28"]}),
    ("/eval", lambda t: {"trained_task_id": t, "checkpoint_epoch": 2, "test_data": ["demo_shapes_28"]}),
    ("/train", lambda t: {"network": "small-cnn", "trained_task_id": t, "train_data": ["demo_shapes_28"],
                          "num_epoch": 1, "batch_size": 8, "proj_id": "A"}),
    ("/eval", lambda t: {"task_desc": eval_request(**{"test_param.ckp.prefix": t,
                                                      "test_param.test_img_config.img_list": ["demo_shapes_28"]})}),
    ("/eval", lambda t: {"task_desc": eval_request(**{"test_param.ckp.prefix": t, "test_param.ckp.epoch": "3",
                                                      "test_param.test_img_config.img_list": ["demo_shapes_28"]})}),
    ("/train", lambda t: {"task_desc": train_request(**{
        "train_param.resume_config": {"is_resume": "0", "ckp": {"prefix": t, "epoch": "2"}},
        "train_param.data_param.file_url": {"train_rec": "demo_shapes_28"}, "train_param.num_epoch": "4"})}),
])
def test_mxserver_answers_a_foreign_task_as_a_made_up_one(api, path, body_for):
    _same_answer(api, body_for, api.task_b, "TASK-MADE-UP", path)


def test_mxserver_answers_a_foreign_save_prefix_as_a_made_up_one(api):
    body_for = lambda prefix: {"task_desc": eval_request(**{  # noqa: E731
        "test_param.ckp.prefix": prefix, "test_param.test_img_config.img_list": ["demo_shapes_28"]})}
    _same_answer(api, body_for, SECRET_PREFIX, "made-up-prefix", "/eval")


def test_new_task_answers_a_foreign_parent_as_a_made_up_one(api):
    """new_task's parent look-up sees only the caller's projects, as MXServer's does: the same
    problems, in the same words, for another project's task and for no task at all."""
    from models.datasets.synthetic import DEMO_DATASET_NAME

    def body_for(parent: str) -> dict:
        return {"proj_id": "B", "proj_name": "B", "task_name": "ft", "task_type": "dl_ft", "model": "SGN-Head",
                "train_data": [DEMO_DATASET_NAME], "val_data": ["no-such-data"], "enable_test": False,
                "param_set": {"learning_rate": 0.01, "batch_size": 8, "lr_step_size": 10, "lr_decay": 0.5,
                              "epochs": 1, "trained_task_id": parent}}
    theirs = api.post("/api/v0/new_task", json=body_for(api.task_a), headers=api.bob)
    unknown = api.post("/api/v0/new_task", json=body_for("TASK-MADE-UP"), headers=api.bob)
    assert theirs.status_code == unknown.status_code == 422, theirs.text
    assert theirs.text.replace(api.task_a, "X") == unknown.text.replace("TASK-MADE-UP", "X")
