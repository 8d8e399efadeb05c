"""The API's group checks, decided from metadata and the recorded lineage: a split by groups
needs two groups per side (fewer after an ancestor's lineage), cross-validation folds too, and a
test set whose every group an ancestor fitted on is refused naming the groups."""

from __future__ import annotations

import pytest

from app.dataset_cache import DatasetInfo
from app.usecases.group_checks import group_counts, split_problems
from app.usecases.lineage_checks import group_lineage_problems, named_datasets
from contracts.task_form import NewTaskForm
from models.datasets.lineage import build_lineage

ALL = {"train": ["G"], "val": ["G"], "test": ["G"]}


def _rows(n_groups: int) -> dict[str, DatasetInfo]:
    counts = {f"site{i}": 5 for i in range(n_groups)}
    meta = {"n_subjects": 5 * n_groups, "n_groups": n_groups, "group_counts": counts}
    return {"G": DatasetInfo("G", "connectome", "READY", meta, "sum-g")}


def _form(**changes) -> NewTaskForm:
    params = {"learning_rate": 0.01, "batch_size": 4, "lr_step_size": 5, "lr_decay": 0.5, "epochs": 2}
    return NewTaskForm(proj_id="P", proj_name="P", task_name="t", task_type="dl_ts", enable_test=True,
                       model="GNN", param_set=params, train_data=["G"], val_data=["G"], test_data=["G"], **changes)


def _parent_fitted(groups: list[str]):
    return build_lineage([("P", {"sum-g": {"train": ["s1"]}})], [("P", {"sum-g": {"train": groups}})])


@pytest.mark.parametrize("n_groups, expected", [(6, []), (5, ["train_data[0]"])])
def test_a_split_by_groups_needs_two_per_role(n_groups, expected):
    problems = split_problems(_form(), ALL, _rows(n_groups), {})
    assert [f for f, _ in problems] == expected
    assert split_problems(_form(split_by="subjects"), ALL, _rows(n_groups), {}) == []


def test_an_ancestors_lineage_leaves_fewer_groups_to_train_and_validate_on():
    lineage = _parent_fitted(["site0", "site1", "site2"])
    [(field, problem)] = split_problems(_form(), ALL, _rows(8), lineage)
    assert field == "train_data[0]" and "ancestors leave 3 groups to train and validate on" in problem
    assert split_problems(_form(), ALL, _rows(8), _parent_fitted([f"site{i}" for i in range(4)])) == []
    assert split_problems(_form(allow_seen_test=True), ALL, _rows(8), lineage) == []


@pytest.mark.parametrize("n_groups, changes, field", [
    (8, {"cv_type": "stratified_kfold", "n_folds": 4}, None),
    (8, {"cv_type": "stratified_kfold", "n_folds": 5}, "n_folds"),  # 5 folds of 2 groups need 10
    (4, {"cv_type": "kfold", "n_folds": 2}, "n_folds"),  # 2 to test leave 2: too few for train and val
    (8, {"cv_type": "loo"}, "cv_type"),
    (8, {"cv_type": "loo", "split_by": "subjects"}, None),
])
def test_folds_of_whole_groups_need_enough_groups(n_groups, changes, field):
    problems = split_problems(_form(**changes), ALL, _rows(n_groups), {})
    assert [f for f, _ in problems] == ([field] if field else [])


def test_a_test_set_of_groups_an_ancestor_fitted_on_is_refused_naming_them():
    rows = _rows(3)
    named = named_datasets({"test": ["G"]}, {"G": ("sum-g", 15)})
    every = _parent_fitted(["site0", "site1", "site2"])
    [(field, problem)] = group_lineage_problems(named, group_counts(rows), every, False)
    assert field == "test_data[0]" and "'site0', 'site1', 'site2'" in problem and "P on 3" in problem
    assert group_lineage_problems(named, group_counts(rows), every, True) == []
    assert group_lineage_problems(named, group_counts(rows), _parent_fitted(["site0", "site1"]), False) == []
