"""NEURO-LEARN's web client as it calls: axios posts ``JSON.stringify(form)``, a string, which
axios labels ``application/x-www-form-urlencoded``; ``model`` comes from a multi-select (a list),
the form carries ``cv_type`` and newer ones ``param_set.save_model_state``; the newer server
route is /api/v0/new_sgn_task. Its status names are read from the task view."""

from __future__ import annotations

import json

import pytest

from tests.service.forms import form

pytestmark = pytest.mark.slow
FORM_HEADER = {"Content-Type": "application/x-www-form-urlencoded"}


def client_form(**changes) -> dict:
    """The seed form as the web client sends it; ``changes`` of param_set fields go there."""
    body = form(model=["GNN"], cv_type="")
    body["param_set"]["save_model_state"] = True
    for key, value in changes.items():
        (body["param_set"] if key in body["param_set"] else body)[key] = value
    return body


def post_as_the_client(stack, route: str, body: dict):
    return stack.post(route, data=json.dumps(body), headers=FORM_HEADER)


def waiting(body: dict) -> dict:
    """The form, held QUEUED (it wants a GPU; the test fleet has none): stopped at once, no run."""
    return body | {"requirements": {"device": "gpu"}}


def test_the_clients_exact_request_runs_on_new_task_and_keeps_its_weights(stack):
    r = post_as_the_client(stack, "/api/v0/new_task", client_form())
    assert r.status_code == 201, r.text
    reply = r.json()
    assert reply["error_num"] == 0 and reply["task_form"]["model"] == "GNN"
    task_id = reply["task_form"]["task_id"]
    assert stack.task(task_id)["task_status"] in ("Submitted", "Running", "Success")
    done = stack.wait_task(task_id)
    assert done["status"] == "SUCCEEDED" and done["task_status"] == "Success", done["error"]
    assert stack.get(f"/api/v0/tasks/{task_id}/model").status_code == 200


def test_on_new_sgn_task_save_model_state_false_keeps_no_weights(stack):
    r = post_as_the_client(stack, "/api/v0/new_sgn_task", client_form(save_model_state=False))
    assert r.status_code == 201 and r.json()["task_form"]["model"] == "GNN", r.text
    task_id = r.json()["task_form"]["task_id"]
    done = stack.wait_task(task_id)
    assert done["status"] == "SUCCEEDED" and done["task_status"] == "Success", done["error"]
    assert stack.get(f"/api/v0/tasks/{task_id}/model").status_code == 404
    child = client_form(task_type="dl_ft")
    child["param_set"]["trained_task_id"] = task_id
    refused = post_as_the_client(stack, "/api/v0/new_task", child)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "param_set.trained_task_id"


@pytest.mark.parametrize("changes,field", [
    ({"cv_type": "10-fold"}, "cv_type"),
    ({"model": ["GNN", "MLP"]}, "model"),
    ({"model": []}, "model"),
])
def test_what_it_cannot_mean_is_refused_by_name(stack, changes, field):
    r = post_as_the_client(stack, "/api/v0/new_sgn_task", client_form(**changes))
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == [field], r.text


def test_cv_type_none_is_accepted_and_a_stopped_task_reads_failed(stack):
    for cv_type in ("", "none", "None", None):
        r = post_as_the_client(stack, "/api/v0/new_task",
                               waiting(client_form(cv_type=cv_type, enable_test=False, test_data=[])))
        assert r.status_code == 201, (cv_type, r.text)
        task_id = r.json()["task_form"]["task_id"]
        assert stack.post(f"/api/v0/tasks/{task_id}/stop").json()["status"] == "STOPPED"
    done = stack.task(task_id)
    assert done["status"] == "STOPPED" and done["task_status"] == "Failed"


def test_a_body_that_is_not_json_is_still_refused(stack):
    r = stack.post("/api/v0/new_sgn_task", data="proj_id=1&model=GNN", headers=FORM_HEADER)
    assert r.status_code == 415 and r.json()["error_num"] == 415
