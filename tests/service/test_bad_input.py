"""Every bad input gets the status README documents (422 for invalid form fields, 400 for bad
query parameters) naming the field, and no task row is written."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select

from tests.service.forms import form

pytestmark = pytest.mark.slow


def _without(path: str) -> dict:
    out = copy.deepcopy(form())
    *parents, leaf = path.split(".")
    target = out
    for p in parents:
        target = target[p]
    del target[leaf]
    return out


def _with(path: str, value) -> dict:
    out = copy.deepcopy(form())
    *parents, leaf = path.split(".")
    target = out
    for p in parents:
        target = target[p]
    target[leaf] = value
    return out


REQUIRED = ["proj_id", "proj_name", "task_name", "task_type", "enable_test", "model", "param_set",
            "param_set.learning_rate", "param_set.batch_size", "param_set.lr_step_size",
            "param_set.lr_decay", "param_set.epochs"]

BAD_VALUES = [
    ("param_set.learning_rate", 0), ("param_set.learning_rate", -0.1), ("param_set.learning_rate", "fast"),
    ("param_set.learning_rate", "NaN"), ("param_set.batch_size", 0), ("param_set.batch_size", -5),
    ("param_set.batch_size", 2.5), ("param_set.batch_size", True), ("param_set.epochs", 0),
    ("param_set.epochs", -1), ("param_set.epochs", 10**9), ("param_set.epochs", "many"),
    ("param_set.lr_decay", 0), ("param_set.lr_decay", 2), ("param_set.lr_step_size", 0),
    ("param_set.optimizer", "rmsprop"), ("param_set.surprise", 1),
    ("task_type", "dl_xx"), ("task_type", 3), ("enable_test", "perhaps"), ("proj_id", ""),
    ("proj_id", {"a": 1}), ("train_data", 7), ("train_data", []), ("val_data", []),
    ("unexpected", "field"),
]


def _assert_rejected(stack, r, field: str, status: int = 422) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["error_num"] == status and body["msg"]
    assert field in [e["field"] for e in body["errors"]], body
    assert "Traceback" not in r.text


@pytest.fixture()
def no_new_rows(stack):
    from dao.db import session_scope
    from dao.tables import Task

    def count() -> int:
        with session_scope() as s:
            return s.scalar(select(func.count()).select_from(Task))

    before = count()
    yield
    assert count() == before, "a rejected form wrote a task row"


@pytest.mark.parametrize("path", REQUIRED)
def test_each_missing_field_is_named(stack, no_new_rows, path):
    r = stack.post("/api/v0/new_task", json=_without(path))
    _assert_rejected(stack, r, path)


@pytest.mark.parametrize(("path", "value"), BAD_VALUES)
def test_each_bad_value_is_named(stack, no_new_rows, path, value):
    r = stack.post("/api/v0/new_task", json=_with(path, value))
    _assert_rejected(stack, r, path)


@pytest.mark.parametrize(("changes", "field"), [
    ({"model": "ResNet-9000"}, "model"),
    ({"train_data": ["no-such-dataset"]}, "train_data[0]"),
    ({"test_data": ["no-such-dataset"]}, "test_data[0]"),
    ({"enable_test": True, "test_data": []}, "test_data"),
    ({"task_type": "dl_ev"}, "param_set.trained_task_id"),
    ({"task_type": "dl_ft", "trained_task_id": "TASK-NOT-THERE"}, "param_set.trained_task_id"),
])
def test_database_checks_name_the_field(stack, no_new_rows, changes, field):
    _assert_rejected(stack, stack.post("/api/v0/new_task", json=form(**changes)), field)


def test_numbers_may_arrive_as_strings(stack):
    r = stack.post("/api/v0/new_task", json=form(learning_rate="0.05", batch_size="10",
                                                   lr_step_size="60", lr_decay="0.2", epochs="1"))
    assert r.status_code == 201, r.text
    assert r.json()["task_form"]["param_set"]["batch_size"] == 10
    stack.post(f"/api/v0/tasks/{r.json()['task_form']['task_id']}/stop")


def test_fine_tune_of_an_unfinished_task_is_refused(stack, no_new_rows):
    from dao.db import session_scope
    from dao import task_queries

    with session_scope() as s:
        queued_id = task_queries.insert_new_task(
            s, proj_id="p", proj_name="p", task_name="t", task_type="dl_ts", model="SGN",
            backend="torch", queue="nowhere", form=form(), status="FAILED", attempt=1)
    try:
        r = stack.post("/api/v0/new_task", json=form(task_type="dl_ft", trained_task_id=queued_id))
        _assert_rejected(stack, r, "param_set.trained_task_id")
        assert "FAILED" in r.json()["errors"][0]["problem"]
    finally:
        with session_scope() as s:  # leave the row count as it was, whatever happened
            s.delete(s.get(task_queries.Task, queued_id))


@pytest.mark.parametrize(("kwargs", "status"), [
    ({"data": "not json", "headers": {"Content-Type": "application/json"}}, 400),
    ({"data": "proj_id=1", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 415),
    ({"data": "[1, 2]", "headers": {"Content-Type": "application/json"}}, 400),
    ({"data": "", "headers": {"Content-Type": "application/json"}}, 400),
    ({"data": "{\"a\": \"" + "x" * (300 * 1024) + "\"}", "headers": {"Content-Type": "application/json"}}, 413),
])
def test_bodies_that_are_not_a_json_form(stack, no_new_rows, kwargs, status):
    r = stack.post("/api/v0/new_task", **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["error_num"] == status


def test_wrong_method_and_unknown_route_are_json(stack):
    assert stack.get("/api/v0/new_task").json()["error_num"] == 405
    assert stack.get("/no/such/route").json()["error_num"] == 404


def test_listing_rejects_bad_query(stack):
    for params, field in (({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"),
                          ({"status": "DANCING"}, "status"), ({"sort": "-no way"}, "sort"),
                          ({"cursor": "garbage!!"}, "cursor")):
        _assert_rejected(stack, stack.get("/api/v0/tasks", params=params), field, status=400)

