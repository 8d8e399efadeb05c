"""Cross-validation folds (scikit-learn's splitters) and what a cross-validated task reports.

``cv_type``: "kfold" (KFold / RepeatedKFold), "stratified_kfold" (StratifiedKFold /
RepeatedStratifiedKFold), "loo" (LeaveOneOut), all shuffled with ``random_state=seed``. Each
fold's held-out part is its test set; the rest is split into train and validation
(stratified, seeded, VAL_SHARE of it for validation) by models.datasets.splits.partition.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import (KFold, LeaveOneOut, RepeatedKFold, RepeatedStratifiedKFold,
                                     StratifiedKFold)

from models.datasets.splits import partition

CV_TYPES = ("kfold", "stratified_kfold", "loo")
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


def make_folds(ds, cv_type: str, n_folds: int, repeats: int, seed: int) -> list[Fold]:
    """The folds of ``ds`` (anything with ``labels``, ``n_classes`` and ``subset``)."""
    split = splitter(cv_type, n_folds, repeats, seed)
    per_repeat = ds.labels.size if cv_type == "loo" else n_folds
    folds = []
    for k, (rest, test) in enumerate(split.split(np.zeros((ds.labels.size, 1)), ds.labels)):
        rng = np.random.default_rng([seed, k, int.from_bytes(hashlib.sha256(b"cv-val").digest()[:4], "little")])
        train, val = (rest[p] for p in partition(ds.subset(rest), [1 - VAL_SHARE, VAL_SHARE], rng))
        folds.append(Fold(k, k // per_repeat, np.sort(train), np.sort(val), np.sort(test)))
    return folds


def fold_record(folds: list[Fold], subjects, cv_type: str, n_folds: int, repeats: int, seed: int) -> dict:
    """The JSON a task stores: which subject went where in each fold."""
    ids = lambda idx: [subjects[i] for i in idx]  # noqa: E731
    return {"cv_type": cv_type, "n_folds": n_folds if cv_type != "loo" else len(subjects),
            "repeats": repeats, "seed": seed, "val_share": VAL_SHARE,
            "folds": [{"fold": f.index, "repeat": f.repeat, "train": ids(f.train), "val": ids(f.val),
                       "test": ids(f.test)} for f in folds]}
