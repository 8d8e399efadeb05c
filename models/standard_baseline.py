"""The connectome baseline beside every torch task's test result: tangent space + logistic
regression (models.tangent) fitted on the task's own training subjects and scored on its own test
subjects, or fold by fold on its cross-validation folds (pooled out of fold like the task's
model), so a user sees at once when the simple model wins (models.baseline_report). An
evaluation (dl_ev) trains nothing: its baseline is fitted on the evaluated task's training
subjects (``JobSpec.baseline_train``), as that task's model was.

Its time is bounded: it is fitted on at most MAX_TRAIN training subjects (a stratified, seeded
subsample beyond that, said in ``fitted_on``), and the result says how long it took. A form's
``skip_baseline`` leaves it out.
"""

from __future__ import annotations

import time

import numpy as np

from models import tangent
from models.baseline_report import baseline_record, probabilities_by_subject, sample, skipped
from models.cv_engine import pooled
from models.datasets.types import ConnectomeDataset
from models.job import JobSpec

MAX_TRAIN = 1000


def beside(spec: JobSpec, result: dict) -> dict:
    """The keys a finished training task's result gains: the baseline's record, or why it has
    none ({} when the result has no test report to stand beside)."""
    if "test" not in result:
        return {}
    if not spec.with_baseline:
        return skipped("skip_baseline was set on the form")
    if tangent.NAME in (spec.model, result.get("model")):
        return skipped("the task's model is the standard baseline")
    if spec.task_type == "dl_ev" and spec.baseline_train is None:
        return skipped("the evaluated task's training subjects could not be loaded (none recorded, or their "
                       "dataset was replaced since)")
    started = time.perf_counter()
    try:
        subjects, y, base_prob, n_train, fitted_on = _predictions(spec)
    except ValueError as exc:  # not positive definite, one class only, ...: the task's own result stands
        return skipped(f"the baseline could not be fitted on this data: {exc}")
    return baseline_record(y, probabilities_by_subject(result["test"], subjects), base_prob,
                           spec_class_names(spec), subjects, seed=spec.params.seed, model=tangent.NAME,
                           fitted_on=fitted_on, n_train=n_train, seconds=time.perf_counter() - started)


def spec_class_names(spec: JobSpec) -> list[str]:
    ds = spec.test if spec.test is not None else spec.folds[0][2]
    return list(ds.class_names)


def _predictions(spec: JobSpec) -> tuple[list[str], np.ndarray, np.ndarray, int, str]:
    """Subjects, labels, the baseline's probabilities, how many subjects it was fitted on (at
    most, per fold) and a sentence saying on what."""
    if not spec.folds:
        whole, where = (spec.baseline_train, " of the evaluated task") if spec.task_type == "dl_ev" else (spec.train, "")
        train = _bounded(whole, spec.params.seed)
        prob = tangent.fit_predict(train, spec.test)
        sampled = train.n_subjects < whole.n_subjects
        return list(spec.test.subjects), spec.test.labels, prob, train.n_subjects, _said(sampled, where)
    folds, largest, sampled = [], 0, False
    for train, _val, test in spec.folds:
        fitted = _bounded(train, spec.params.seed)
        largest, sampled = max(largest, fitted.n_subjects), sampled or fitted.n_subjects < train.n_subjects
        prob = tangent.fit_predict(fitted, test)
        folds.append({"oof": [[s, int(y), p] for s, y, p in zip(test.subjects, test.labels, prob)]})
    subjects, y, prob = pooled(folds, "oof")
    return subjects, y, prob, largest, _said(sampled, " of each fold, pooled out of fold")


def _bounded(train: ConnectomeDataset, seed: int) -> ConnectomeDataset:
    return train if train.n_subjects <= MAX_TRAIN else train.subset(sample(train.labels, MAX_TRAIN, seed))


def _said(sampled: bool, where: str) -> str:
    if sampled:
        return f"a sample of {MAX_TRAIN} of the training subjects{where} (stratified)"
    return f"the training subjects{where}" if where else "the task's training subjects"
