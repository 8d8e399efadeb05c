"""Nested cross-validation's form: a ``param_grid`` needs a cv_type and a task that trains, names
only hyper-parameters worth tuning, each value within that parameter's own bounds; the runs it
costs (outer folds × (inner folds × configurations + 1 refit)) are capped by a setting, and a form
over the cap is refused naming the count and the cap."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.dataset_cache import DatasetInfo
from app.usecases.form_checks import nested_problems
from contracts.param_grid import TUNABLE, configurations, epochs_per_fold, grid_size, inner_cv_type, nested_runs
from contracts.settings import reset_settings
from contracts.task_form import NewTaskForm, missing_roles


def _form(**changes) -> NewTaskForm:
    params = {"learning_rate": 0.01, "batch_size": 4, "lr_step_size": 5, "lr_decay": 0.5, "epochs": 2}
    fields = {"task_type": "dl_ts", "enable_test": True, "train_data": ["D"], "val_data": ["D"], "test_data": ["D"],
              **changes}
    return NewTaskForm(proj_id="P", proj_name="P", task_name="t", model="GNN", param_set=params, **fields)


def _rows(n: int = 60) -> dict[str, DatasetInfo]:
    meta = {"n_subjects": n, "class_counts": {"NC": n // 2, "SZ": n - n // 2}}
    return {"D": DatasetInfo("D", "connectome", "READY", meta, "sum-d")}


GRID = {"learning_rate": [0.01, 0.05], "weight_decay": [0, 1e-4]}


def test_a_grid_makes_every_combination_and_counts_its_runs():
    assert grid_size(GRID) == 4
    assert configurations(GRID) == [{"learning_rate": 0.01, "weight_decay": 0}, {"learning_rate": 0.01, "weight_decay": 1e-4},
                                    {"learning_rate": 0.05, "weight_decay": 0}, {"learning_rate": 0.05, "weight_decay": 1e-4}]
    assert nested_runs(5, 3, GRID) == 5 * (3 * 4 + 1)
    assert nested_runs(5, 3, GRID, n_permutations=2) == 3 * 5 * (3 * 4 + 1)
    assert epochs_per_fold(2, {"epochs": [1, "7"]}) == 7 and epochs_per_fold(2, None) == 2
    assert (inner_cv_type("stratified_kfold"), inner_cv_type("kfold"), inner_cv_type("loo")) == (
        "stratified_kfold", "kfold", "kfold")


def test_a_valid_grid_has_no_problems_and_is_stored_with_its_inner_folds():
    form = _form(cv_type="stratified_kfold", n_folds=3, param_grid=GRID, inner_folds=2)
    assert missing_roles(form) == []
    assert form.model_dump(mode="json")["param_grid"] == GRID and form.inner_folds == 2
    assert _form().param_grid is None and _form().inner_folds == 3


@pytest.mark.parametrize("changes, field, words", [
    ({"param_grid": GRID}, "param_grid", "needs a cv_type"),
    ({"param_grid": GRID, "cv_type": "kfold", "task_type": "dl_ev"}, "param_grid", "dl_ev"),
    ({"param_grid": {"seed": [1, 2]}}, "param_grid.seed", "not a hyper-parameter to tune"),
    ({"param_grid": {"dropout": [0.1]}}, "param_grid.dropout", "not a hyper-parameter to tune"),
    ({"param_grid": {"learning_rate": [0.01, 20]}}, "param_grid.learning_rate", "20: Input should be less than or equal to 10"),
    ({"param_grid": {"weight_decay": [-1]}}, "param_grid.weight_decay", "greater than or equal to 0"),
    ({"param_grid": {"batch_size": [0]}}, "param_grid.batch_size", "greater than or equal to 1"),
    ({"param_grid": {"optimizer": ["adam", "rmsprop"]}}, "param_grid.optimizer", "'rmsprop'"),
    ({"param_grid": {"learning_rate": [0.01, "0.01"]}}, "param_grid.learning_rate", "twice"),
])
def test_grid_problems_name_the_field(changes, field, words):
    form = _form(**({"cv_type": "kfold", **changes} if field != "param_grid" else changes))
    form.param_set.trained_task_id = "PARENT" if form.task_type == "dl_ev" else None
    problems = dict(missing_roles(form))
    assert field in problems and words in problems[field], problems


def test_the_tunable_parameters_are_the_engines_less_its_seed():
    from models.job import HyperParams

    assert set(TUNABLE) == set(HyperParams.model_fields) - {"seed"}


@pytest.mark.parametrize("bad", [{"inner_folds": 1}, {"inner_folds": 11}, {"param_grid": {"learning_rate": []}},
                                 {"param_grid": {"learning_rate": [0.01] * 21}}])
def test_inner_folds_and_grid_lengths_are_bounded(bad):
    with pytest.raises(ValidationError):
        _form(cv_type="kfold", **bad)


def test_a_form_over_the_cap_is_refused_with_the_count(monkeypatch):
    monkeypatch.setenv("TRAINYARD_MAX_NESTED_CV_RUNS", "40")
    reset_settings()
    try:
        under = _form(cv_type="stratified_kfold", n_folds=3, param_grid=GRID, inner_folds=3)  # 3 × (3×4 + 1) = 39
        assert nested_problems(under, 3, _rows()) == []
        over = _form(cv_type="stratified_kfold", n_folds=3, cv_repeats=2, param_grid=GRID, inner_folds=3)
        [(field, problem)] = nested_problems(over, 6, _rows())  # the folds of every repeat: 6 × 13 = 78
        assert field == "param_grid" and "78 models" in problem and "cap of 40" in problem
    finally:
        monkeypatch.delenv("TRAINYARD_MAX_NESTED_CV_RUNS")
        reset_settings()


def test_inner_folds_must_fit_an_outer_training_part():
    form = _form(cv_type="stratified_kfold", n_folds=2, param_grid=GRID, inner_folds=4)
    [(field, problem)] = nested_problems(form, 2, _rows(12))  # 6 per class, 3 left in an outer training part
    assert field == "inner_folds" and "about 3" in problem
    assert nested_problems(_form(cv_type="stratified_kfold", n_folds=2, param_grid=GRID, inner_folds=3), 2,
                           _rows(12)) == []
