"""Splits and folds by groups: no group (site) on two sides of a train/val/test split or of any
fold, scikit-learn's splitters, at least two groups per side, ``split_by: "subjects"`` marked
groups_mixed, and the lineage's group rule."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, StratifiedGroupKFold

from models.cv import fold_record, make_folds
from models.datasets.group_splits import CANDIDATES, GroupSplitError, cut_groups
from models.datasets.lineage import build_lineage, pools
from models.datasets.splits import assign_roles, group_shares
from tests.models.test_datasets_splits import _dataset

ALL = {"train": ["G"], "val": ["G"], "test": ["G"]}
CK = {"G": "checksum-g"}


def _grouped(n_groups: int = 10, per_class: int = 30, seed: int = 0):
    ds = _dataset((per_class, per_class), seed=seed)
    return replace(ds, groups=tuple(f"site{i % n_groups:02d}" for i in range(ds.n_subjects)))


def _groups_of(record: dict, role: str) -> set[str]:
    return {g for _, g in record["roles"][role]["groups"]}


def _sides(ds, parts) -> list[set[str]]:
    return [{ds.groups[i] for i in idx} for idx in parts]


@pytest.mark.parametrize("n, expected", [(17, [12, 3, 2]), (10, [6, 2, 2]), (6, [2, 2, 2])])
def test_group_shares_give_each_role_two_groups(n, expected):
    assert group_shares(n, [0.7, 0.15, 0.15]) == expected


def test_too_few_groups_is_an_error_naming_the_dataset():
    with pytest.raises(GroupSplitError):
        group_shares(5, [0.7, 0.15, 0.15])
    with pytest.raises(ValueError, match=r"dataset 'G' cannot be split by groups among train, val, test: "
                                         r"it has 5 groups.*split_by \"subjects\""):
        assign_roles(ALL, {"G": _grouped(5)}, seed=0)


def test_a_cut_is_one_of_scikit_learns_group_shuffle_splits():
    ds = _grouped(10)
    groups = np.asarray(ds.groups)
    train, test = cut_groups(ds.labels, groups, [8, 2], seed=4)
    draws = GroupShuffleSplit(n_splits=CANDIDATES, test_size=2, random_state=4).split(
        np.zeros((ds.n_subjects, 1)), ds.labels, groups)
    assert sorted(test.tolist()) in [sorted(t.tolist()) for _, t in draws]
    assert not set(groups[train]) & set(groups[test]) and len(set(groups[test])) == 2


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_train_val_test_keep_each_group_on_one_side(seed):
    ds = _grouped(10, seed=seed)
    out, record = assign_roles(ALL, {"G": ds}, seed=seed, checksums=CK)
    sides = [set(out[r].groups) for r in ("train", "val", "test")]
    assert sides == [_groups_of(record, r) for r in ("train", "val", "test")]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert [len(s) for s in sides] == [6, 2, 2] and set().union(*sides) == set(ds.groups)
    assert record["split_by"] == "groups" and record["groups_mixed"] is False
    assert record["lineage_groups"] == {"checksum-g": {r: sorted(s) for r, s in zip(("train", "val", "test"), sides)}}


def test_split_by_subjects_mixes_groups_and_says_so():
    ds = _grouped(10)
    out, record = assign_roles(ALL, {"G": ds}, seed=0, split_by="subjects")
    assert record["split_by"] == "subjects" and record["groups_mixed"] is True
    assert set(out["train"].groups) & set(out["test"].groups)


def test_split_by_groups_refuses_a_dataset_without_groups():
    with pytest.raises(ValueError, match="dataset 'G' has no groups"):
        assign_roles(ALL, {"G": _dataset()}, seed=0, split_by="groups")


@pytest.mark.parametrize("cv_type, theirs", [
    ("stratified_kfold", lambda seed: StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=seed)),
    ("kfold", lambda seed: GroupKFold(n_splits=4, shuffle=True, random_state=seed)),
])
def test_folds_are_scikit_learns_group_folds_and_keep_groups_whole(cv_type, theirs):
    ds = _grouped(12)
    groups = np.asarray(ds.groups)
    folds = make_folds(ds, cv_type, 4, 2, 5, by_groups=True)
    expected = [sorted(t.tolist()) for r in range(2)
                for _, t in theirs(5 + r).split(np.zeros((ds.n_subjects, 1)), ds.labels, groups)]
    assert [f.test.tolist() for f in folds] == expected
    assert [f.repeat for f in folds] == [0] * 4 + [1] * 4
    for f in folds:
        train, val, test = _sides(ds, (f.train, f.val, f.test))
        assert not (train & val or train & test or val & test)
        assert min(len(train), len(val), len(test)) >= 2
        assert sorted([*f.train, *f.val, *f.test]) == list(range(ds.n_subjects))
    record = fold_record(folds, ds.subjects, cv_type, 4, 2, 5, ds.groups)
    assert set(record["folds"][0]["groups"]["test"]) == _sides(ds, [folds[0].test])[0]


def test_folds_by_subjects_ignore_groups_and_loo_by_groups_is_refused():
    ds = _grouped(12)
    mixed = make_folds(ds, "stratified_kfold", 4, 1, 5)
    assert any(set(_sides(ds, [f.train])[0]) & _sides(ds, [f.test])[0] for f in mixed)
    with pytest.raises(GroupSplitError, match="loo"):
        make_folds(ds, "loo", 0, 1, 5, by_groups=True)
    with pytest.raises(GroupSplitError, match="fold"):
        make_folds(_grouped(6), "kfold", 4, 1, 5, by_groups=True)


def _child(ds, parent_record, roles, allow=False):
    lineage = build_lineage([("P", parent_record["lineage"])], [("P", parent_record.get("lineage_groups"))])
    return assign_roles(roles, {"G": ds}, seed=9, checksums=CK, lineage=lineage, allow_seen_test=allow)


def test_a_child_tests_only_on_groups_no_ancestor_fitted():
    ds = _grouped(10)
    _, parent = assign_roles(ALL, {"G": ds}, seed=0, checksums=CK)
    out, child = _child(ds, parent, ALL)
    assert set(out["test"].groups) == _groups_of(parent, "test")
    assert not (set(out["train"].groups) | set(out["val"].groups)) & _groups_of(parent, "test")


def test_a_parent_that_mixed_groups_leaves_no_test_group():
    ds = _grouped(10)
    _, parent = assign_roles(ALL, {"G": ds}, seed=0, checksums=CK, split_by="subjects")
    seen = build_lineage([("P", parent["lineage"])], [("P", parent["lineage_groups"])])["checksum-g"]
    assert pools(ds.subjects, seen, ["test"]).test  # the subject rule alone leaves the parent's test set
    assert not pools(ds.subjects, seen, ["test"], ds.groups).test  # every group of it was fitted on
    with pytest.raises(ValueError, match="no subject is left for 'test'"):
        _child(ds, parent, {"test": ["G"]})
    out, marked = _child(ds, parent, {"test": ["G"]}, allow=True)
    assert marked["seen_in_test"]["groups"] == {g: ["P"] for g in sorted(set(ds.groups))}
