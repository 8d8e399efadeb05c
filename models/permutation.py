"""A permutation test of "better than chance", as scikit-learn's ``permutation_test_score``:
the labels are shuffled (all of them, across the train, validation and test subjects, as
scikit-learn shuffles ``y`` before cross-validating), the same training is run again, and the
p-value is (C + 1) / (n_permutations + 1), C the number of shuffled runs whose test accuracy is
at least the real one. Permutation i shuffles with ``numpy.random.default_rng([seed, i])``.

A permuted run reports nothing (no epochs, no checkpoints) but stops when the task is stopped.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from models.datasets.types import ConnectomeDataset
from models.job import JobHooks, JobOutcome, JobSpec, QuietHooks


def _relabelled(ds: ConnectomeDataset | None, labels: np.ndarray) -> ConnectomeDataset | None:
    return None if ds is None else replace(ds, labels=labels)


def permuted_spec(spec: JobSpec, rng: np.random.Generator) -> JobSpec:
    """``spec`` with its labels shuffled: across train+val+test, or across the cross-validation
    pool (each fold then takes its subjects' shuffled labels)."""
    if spec.folds:
        shuffled = dict(zip(spec.train.subjects, rng.permutation(spec.train.labels)))
        relabel = lambda ds: replace(ds, labels=np.array([shuffled[s] for s in ds.subjects], np.int64))  # noqa: E731
        return replace(spec, folds=tuple(tuple(relabel(d) for d in fold) for fold in spec.folds),
                       resume_checkpoint=None)
    parts = [spec.train, spec.val, spec.test]
    labels = rng.permutation(np.concatenate([p.labels for p in parts if p is not None]))
    out, start = [], 0
    for p in parts:
        n = 0 if p is None else p.n_subjects
        out.append(_relabelled(p, labels[start:start + n]))
        start += n
    return replace(spec, train=out[0], val=out[1], test=out[2], resume_checkpoint=None)


def permutation_test(spec: JobSpec, hooks: JobHooks, score: float, n_permutations: int,
                     run: Callable[[JobSpec, JobHooks], JobOutcome]) -> dict | None:
    """The test's record, or None when the task was stopped during it."""
    scores = []
    for i in range(n_permutations):
        out = run(permuted_spec(spec, np.random.default_rng([spec.params.seed, i])), QuietHooks(hooks))
        if out.stopped:
            return None
        scores.append(float(out.result["test_accuracy"]))
    beaten = sum(s >= score for s in scores)
    return {"metric": "test_accuracy", "score": score, "n_permutations": n_permutations,
            "p_value": (beaten + 1) / (n_permutations + 1), "permutation_scores": scores,
            "method": "labels shuffled across all subjects, training rerun (sklearn permutation_test_score)"}
