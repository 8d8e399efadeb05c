"""The standard baseline's record beside a task's test result: the baseline's own test report
(metrics and 95% intervals, models.evaluation) and the paired difference of the task's model to
it on the very same subjects (models.paired: McNemar's exact test for accuracy, a paired
bootstrap for balanced accuracy and ROC AUC). No framework: both workers' environments import it.

Each backend fits its own baseline (models.standard_baseline for connectomes, the MXNet backend's
pixel baseline for images) and hands the probabilities here, lined up with the task's own.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from contracts.task_result import BASELINE_DIFFERENCE as DIFFERENCE
from contracts.task_result import BASELINE_KEY as KEY
from contracts.task_result import BASELINE_PREFIX as PREFIX
from models.evaluation import set_report
from models.paired import paired_tests


def baseline_record(y, model_prob, baseline_prob, class_names, subjects, *, seed: int, model: str,
                    fitted_on: str, n_train: int, seconds: float) -> dict:
    """The keys a result gains: KEY (the record) and the flat PREFIX_* and DIFFERENCE numbers.
    Every difference is the task's model minus the baseline. Raises ValueError (shapes)."""
    report = set_report(y, baseline_prob, list(class_names), subjects, seed=seed,
                        label=f"{model}, fitted on {fitted_on}", prefix=PREFIX)
    detail = report.pop(PREFIX)
    detail.pop("predictions", None)
    paired = [{**row, "metric": f"test_{row['metric']}"}  # named as the flat metrics (and compare) name them
              for row in paired_tests(y, model_prob, baseline_prob, seed=seed)]
    record = {"model": model, "fitted_on": fitted_on, "n_train": int(n_train), "seconds": round(seconds, 3),
              "test": detail, "paired": paired, "difference": "the task's model minus the baseline"}
    accuracy = next(p["difference"] for p in paired if p["metric"] == "test_accuracy")
    return {KEY: record, **report, DIFFERENCE: accuracy}


def skipped(reason: str) -> dict:
    return {KEY: {"skipped": reason}}


def probabilities_by_subject(test_detail: dict, subjects) -> np.ndarray:
    """The task's (n, C) test probabilities from its report's per-subject predictions, in the
    order of ``subjects``. Raises KeyError when a subject has no prediction."""
    names = test_detail["class_names"]
    rows = {p["subject"]: [p["probabilities"][c] for c in names] for p in test_detail["predictions"]}
    return np.array([rows[s] for s in subjects], dtype=np.float64)


def sample(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of ``size`` of the examples, stratified by label (seeded); all of them when
    there are no more than ``size``. A class too small to stratify turns stratification off."""
    if labels.size <= size:
        return np.arange(labels.size)
    counts = np.bincount(labels)
    stratify = labels if counts[counts > 0].min() >= 2 else None
    keep, _ = train_test_split(np.arange(labels.size), train_size=size, random_state=seed, stratify=stratify)
    return np.sort(keep)
