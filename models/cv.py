"""Cross-validation folds (scikit-learn's splitters) and what a cross-validated task reports.

``cv_type``: "kfold" (KFold / RepeatedKFold), "stratified_kfold" (StratifiedKFold /
RepeatedStratifiedKFold), "loo" (LeaveOneOut), all shuffled with ``random_state=seed``. Each
fold's held-out part is its test set; the rest is split into train and validation
(stratified, seeded, VAL_SHARE of it for validation) by models.datasets.splits.partition.

With ``by_groups`` on a pool with groups (sites, scanners, families) no group is on two sides of a
fold: "kfold" is GroupKFold, "stratified_kfold" StratifiedGroupKFold (shuffled, repeat r with
``random_state=seed + r``), and the rest is split into train and validation by whole groups
(models.datasets.splits.split_parts). Every side holds at least MIN_GROUPS groups; leave-one-out
by groups is refused (one subject is not a side of groups).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import (GroupKFold, KFold, LeaveOneOut, RepeatedKFold, RepeatedStratifiedKFold,
                                     StratifiedGroupKFold, StratifiedKFold)

from contracts.task_form import CV_TYPES
from models.datasets.group_splits import MIN_GROUPS, GroupSplitError, group_names
from models.datasets.splits import partition, split_parts

VAL_SHARE = 0.15


@dataclass(frozen=True)
class Fold:
    index: int  # 0-based, over every repeat
    repeat: int  # 0-based
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def splitter(cv_type: str, n_folds: int, repeats: int, seed: int):
    """The scikit-learn splitter ``cv_type`` names. Raises ValueError for an unknown type."""
    if cv_type == "loo":
        return LeaveOneOut()
    if cv_type == "kfold":
        if repeats > 1:
            return RepeatedKFold(n_splits=n_folds, n_repeats=repeats, random_state=seed)
        return KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    if cv_type == "stratified_kfold":
        if repeats > 1:
            return RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=repeats, random_state=seed)
        return StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    raise ValueError(f"unknown cv_type {cv_type!r}; expected one of {', '.join(CV_TYPES)}")


def _val_rng(seed: int, k: int) -> np.random.Generator:
    return np.random.default_rng([seed, k, int.from_bytes(hashlib.sha256(b"cv-val").digest()[:4], "little")])


def make_folds(ds, cv_type: str, n_folds: int, repeats: int, seed: int, by_groups: bool = False) -> list[Fold]:
    """The folds of ``ds`` (anything with ``labels``, ``n_classes`` and ``subset``; and
    ``groups``, used with ``by_groups``). Raises GroupSplitError (a ValueError)."""
    if by_groups and getattr(ds, "groups", None) is not None:
        return _group_folds(ds, np.asarray(ds.groups), cv_type, n_folds, repeats, seed)
    split = splitter(cv_type, n_folds, repeats, seed)
    per_repeat = ds.labels.size if cv_type == "loo" else n_folds
    folds = []
    for k, (rest, test) in enumerate(split.split(np.zeros((ds.labels.size, 1)), ds.labels)):
        train, val = (rest[p] for p in partition(ds.subset(rest), [1 - VAL_SHARE, VAL_SHARE], _val_rng(seed, k)))
        folds.append(Fold(k, k // per_repeat, np.sort(train), np.sort(val), np.sort(test)))
    return folds


def group_splitter(cv_type: str, n_folds: int, seed: int):
    """The scikit-learn splitter that keeps groups whole. Raises GroupSplitError for "loo"."""
    if cv_type == "kfold":
        return GroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    if cv_type == "stratified_kfold":
        return StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    raise GroupSplitError(f"cv_type {cv_type!r} cannot keep groups whole; use kfold or stratified_kfold "
                          f"(or split_by \"subjects\")")


def _group_folds(ds, groups: np.ndarray, cv_type: str, n_folds: int, repeats: int, seed: int) -> list[Fold]:
    folds: list[Fold] = []
    for r in range(repeats):
        split = group_splitter(cv_type, n_folds, seed + r)
        for rest, test in split.split(np.zeros((groups.size, 1)), ds.labels, groups):
            k = len(folds)
            if len(set(groups[test])) < MIN_GROUPS:
                raise GroupSplitError(f"fold {k} would test on only {len(set(groups[test]))} group(s); every side "
                                      f"needs at least {MIN_GROUPS}: use fewer folds")
            try:
                parts = split_parts(ds.subset(rest), [1 - VAL_SHARE, VAL_SHARE], _val_rng(seed, k), True)
            except GroupSplitError as exc:
                raise GroupSplitError(f"fold {k} cannot split its training groups into train and "
                                      f"validation: {exc}; use fewer folds") from None
            train, val = (rest[p] for p in parts)
            folds.append(Fold(k, r, np.sort(train), np.sort(val), np.sort(test)))
    return folds


def fold_record(folds: list[Fold], subjects, cv_type: str, n_folds: int, repeats: int, seed: int,
                groups=None) -> dict:
    """The JSON a task stores: which subject (and with ``groups``, which group) went where in
    each fold."""
    ids = lambda idx: [subjects[i] for i in idx]  # noqa: E731
    return {"cv_type": cv_type, "n_folds": n_folds if cv_type != "loo" else len(subjects),
            "repeats": repeats, "seed": seed, "val_share": VAL_SHARE,
            "folds": [{"fold": f.index, "repeat": f.repeat, "train": ids(f.train), "val": ids(f.val),
                       "test": ids(f.test), **_fold_groups(f, groups)} for f in folds]}


def _fold_groups(fold: Fold, groups) -> dict:
    if groups is None:
        return {}
    return {"groups": {role: group_names(groups, getattr(fold, role)) for role in ("train", "val", "test")}}
