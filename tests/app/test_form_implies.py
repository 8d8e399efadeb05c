"""What a form implies is defined once: the data roles a task type reads (contracts.task_needs), read
alike by the API's checks and the worker's loading; the hyper-parameters the engine takes
(models.job.HyperParams), every one of them accepted by the API's form; where it may run
(contracts.task_needs.Requirements), read by the dispatcher and the MXNet worker."""

from __future__ import annotations


import pytest

from app.usecases.form_checks import _used_roles
from contracts.task_form import NewTaskForm, ParamSet, missing_roles
from models.job import HyperParams
from contracts.task_needs import DATA_FIELDS, ROLES, used_roles
from tasks.job_inputs import HYPER_FIELDS, hyper_params, role_names

NAMES = {"train_data": ["A"], "val_data": ["B"], "test_data": ["C"]}


def _form(task_type: str, enable_test: bool, **data) -> NewTaskForm:
    params = {"learning_rate": 0.01, "batch_size": 4, "lr_step_size": 5, "lr_decay": 0.5, "epochs": 2,
              "trained_task_id": None if task_type == "dl_ts" else "PARENT"}
    return NewTaskForm(proj_id="P", proj_name="P", task_name="t", task_type=task_type, enable_test=enable_test,
                       model="SGN", param_set=params, **data)


@pytest.mark.parametrize(("task_type", "enable_test", "expected"), [
    ("dl_ts", False, ("train", "val")), ("dl_ts", True, ("train", "val", "test")),
    ("dl_ft", True, ("train", "val", "test")), ("dl_ev", False, ("test",)), ("dl_ev", True, ("test",)),
])
def test_the_api_and_the_worker_read_the_same_roles(task_type, enable_test, expected):
    assert used_roles(task_type, enable_test) == expected
    form = _form(task_type, enable_test, **NAMES)
    assert _used_roles(form) == tuple(f"{r}_data" for r in expected)  # the API's checks
    stored = form.model_dump()
    worker = role_names(stored)  # the worker's loading
    assert worker == {r: (NAMES[f"{r}_data"] if r in expected else []) for r in ROLES}
    assert [f for f, _ in missing_roles(_form(task_type, enable_test))] == [f"{r}_data" for r in expected]


def test_missing_role_messages_name_the_field_and_why():
    assert missing_roles(_form("dl_ts", True)) == [
        ("train_data", "needs at least one dataset"), ("val_data", "needs at least one dataset"),
        ("test_data", "needs at least one dataset when enable_test is true")]
    assert missing_roles(_form("dl_ev", False)) == [("test_data", "needs at least one dataset to evaluate on")]
    assert DATA_FIELDS == ("train_data", "val_data", "test_data")


def test_every_hyper_parameter_of_the_engine_is_a_form_field():
    assert issubclass(ParamSet, HyperParams)  # one definition of the fields, defaults and bounds
    stored = _form("dl_ts", False).param_set.model_dump()
    assert hyper_params(stored) == HyperParams(**{k: stored[k] for k in HYPER_FIELDS})


def test_the_api_the_dispatcher_and_the_mxnet_worker_read_one_requirements():
    from contracts.task_form import TaskRequirements
    from contracts.task_needs import DEVICES, Requirements
    from tasks import placement

    assert placement.Requirements is Requirements  # the dispatcher's
    checked = TaskRequirements.model_validate({"device": "gpu", "min_free_memory_mb": "2048"})
    assert Requirements.from_form({"requirements": checked.model_dump()}) == Requirements("gpu", 2048)
    assert Requirements.from_form({}) == Requirements() == Requirements(**TaskRequirements().model_dump())
    assert set(TaskRequirements.model_json_schema()["properties"]["device"]["enum"]) == set(DEVICES)
    with pytest.raises(ValueError, match="device"):
        TaskRequirements.model_validate({"device": "tpu"})
