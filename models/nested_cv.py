"""Nested cross-validation: the configuration each outer fold trains with, chosen by an inner
cross-validation on that fold's training part (its train and validation subjects) alone.

Every configuration of the grid (contracts.param_grid) is trained on each inner fold's rest and
validated on its held-out part; it scores the mean of those runs' ``best_val_loss`` (lower is
better: contracts.selection's DEFAULT_METRIC). The lowest mean wins (the first in grid order on a
tie); models.cv_engine then trains it on the outer fold and tests it on the outer test part, so
the outer test subjects take no part in the choice. The inner splitter is scikit-learn's
(models.cv: stratified when the outer one is, groups kept whole like the outer folds, seeded by
``param_set.seed``). Inner runs report no epochs and no checkpoints; they stop when the task is
stopped and end early when the worker shuts down (the fold's inner CV is then redone on resume).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from contracts.param_grid import configurations, epochs_per_fold
from contracts.selection import DEFAULT_METRIC, INNER_CV, direction
from models.cv import group_splitter, splitter
from models.datasets.splits import concatenate
from models.datasets.types import ConnectomeDataset
from models.job import HyperParams, JobHooks, JobOutcome, JobSpec, NestedCV, QuietHooks


def fold_epochs(spec: JobSpec) -> int:
    """The epochs each outer fold's numbering reserves (the most a configuration trains)."""
    return epochs_per_fold(spec.params.epochs, spec.nested.grid if spec.nested else None)


def with_config(params: HyperParams, config: dict) -> HyperParams:
    return HyperParams(**{**params.model_dump(), **config})


def choose(spec: JobSpec, k: int, hooks: JobHooks, dev, train_job) -> tuple[dict | None, JobOutcome | None]:  # noqa: ANN001
    """Outer fold ``k``'s choice ``{"fold", "chosen", "inner_scores"}``, or (None, the inner run
    that stopped) when the task was stopped or paused during it."""
    train, val, _ = spec.folds[k]
    rest = joined(train, val)
    splits = inner_splits(rest, spec.nested, spec.params.seed)
    scores = []
    for config in configurations(spec.nested.grid):
        per_fold, stopped = _score(spec, config, rest, splits, hooks, dev, train_job)
        if stopped is not None:
            return None, stopped
        scores.append({"params": config, "mean": float(np.mean(per_fold)), "per_fold": per_fold})
    best = min(scores, key=lambda s: s["mean"])
    return {"fold": k, "chosen": best["params"], "inner_scores": scores}, None


def _score(spec: JobSpec, config: dict, rest: ConnectomeDataset, splits: list, hooks: JobHooks, dev,  # noqa: ANN001
           train_job) -> tuple[list[float], JobOutcome | None]:  # noqa: ANN001
    """The configuration's inner validation loss per inner fold, or the run that stopped."""
    per_fold = []
    for fit, held in splits:
        inner = replace(spec, params=with_config(spec.params, config), train=rest.subset(fit),
                        val=rest.subset(held), test=None, folds=None, nested=None, resume_checkpoint=None,
                        n_permutations=0)
        out = train_job(inner, QuietHooks(hooks, pausable=True), dev)
        if out.stopped:
            return per_fold, out
        per_fold.append(float(out.result[DEFAULT_METRIC]))
    return per_fold, None


def inner_splits(ds: ConnectomeDataset, nested: NestedCV, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit, held-out) indices of ``ds``'s inner folds: scikit-learn's splitter, groups kept whole
    when the outer folds keep them."""
    x = np.zeros((ds.n_subjects, 1))
    if nested.by_groups and ds.groups is not None:
        return list(group_splitter(nested.cv_type, nested.inner_folds, seed).split(x, ds.labels,
                                                                                   np.asarray(ds.groups)))
    return list(splitter(nested.cv_type, nested.inner_folds, 1, seed).split(x, ds.labels))


def joined(a: ConnectomeDataset, b: ConnectomeDataset) -> ConnectomeDataset:
    """The subjects of ``a`` then ``b`` (an outer fold's train and validation parts)."""
    return concatenate([("train", a), ("val", b)], a.class_names)[0]


def stopped_outcome(inner: JobOutcome) -> JobOutcome:
    """What a task stopped during an inner CV, before any outer fold trained, ends with: no weights."""
    return JobOutcome(True, 0, None, None, inner.result, inner.contract)


def record(nested: NestedCV, done: list) -> dict:
    """The result's ``nested_cv``: per outer fold done, the configuration chosen and every
    configuration's inner scores; ``runs`` counts the trainings they rest on."""
    folds = [f["nested"] for f in done if f.get("nested")]
    runs = sum(len(f["inner_scores"]) * nested.inner_folds + 1 for f in folds)
    return {"inner_folds": nested.inner_folds, "inner_cv_type": nested.cv_type, "grid": nested.grid,
            "runs": runs, "selected_on": INNER_CV, "metric": DEFAULT_METRIC, "direction": direction(DEFAULT_METRIC),
            "folds": folds}
