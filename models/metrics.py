"""Classification metrics for test sets, binary or multi-class.

The rates (sensitivity, specificity, precision, F1, balanced accuracy) come from the confusion
matrix through ``models.confusion_metrics`` (numpy only, shared with the MXNet backend); ROC AUC is the
Mann-Whitney statistic (one-vs-rest, macro, for several classes), equal to scikit-learn's
(tested); they are computed with numpy here because the bootstrap computes them thousands of
times.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from models.confusion_metrics import batch_rates
from contracts.task_result import SCORES


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Per row of (B, n) arrays; NaN where a row lacks one of the two groups."""
    n1 = positive.sum(axis=1).astype(float)
    n0 = positive.shape[1] - n1
    ranks = rankdata(score, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = ((ranks * positive).sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    return np.where((n1 > 0) & (n0 > 0), auc, np.nan)


def _roc_auc(y: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """(B,) AUCs of (B, n) labels and (B, n, C) probabilities; NaN where a class is absent."""
    n_classes = prob.shape[2]
    if n_classes == 2:
        return _binary_auc(y == 1, prob[:, :, 1])
    p = prob / prob.sum(axis=2, keepdims=True)
    return np.mean([_binary_auc(y == k, p[:, :, k]) for k in range(n_classes)], axis=0)


def confusion(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows true, columns predicted."""
    return np.bincount(y * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def batch_scores(y: np.ndarray, prob: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric in SCORES for each row of (B, n) labels and (B, n, C) probabilities, as (B,)
    arrays (NaN where undefined); the bootstrap scores all its resamples in one call."""
    n_classes = prob.shape[2]
    pred = prob.argmax(axis=2)
    cm = np.stack([np.stack([((y == t) & (pred == q)).sum(axis=1) for q in range(n_classes)], axis=1)
                   for t in range(n_classes)], axis=1).astype(float)  # (B, true, predicted)
    return {**batch_rates(cm), "roc_auc": _roc_auc(y, prob)}


def scores(y: np.ndarray, prob: np.ndarray) -> dict[str, float | None]:
    """Every metric in SCORES of the predictions ``argmax(prob)`` against labels ``y`` (None
    where undefined: ROC AUC without every class present)."""
    out = {}
    for metric, value in batch_scores(y[None], prob[None]).items():
        out[metric] = None if np.isnan(value[0]) else float(value[0])
    return out


def checked(y_true, prob, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities as arrays. Raises ValueError when the shapes disagree or there
    are no subjects."""
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(prob, dtype=np.float64)
    if y.ndim != 1 or y.size == 0 or p.shape != (y.size, n_classes):
        raise ValueError(f"need N labels and (N, {n_classes}) probabilities, got {y.shape} and {p.shape}")
    return y, p


def classification_metrics(y_true, prob, class_names, subjects=None) -> dict:
    """Metrics of the predictions ``argmax(prob)`` against ``y_true``.

    ``prob`` is (N, C) class probabilities; returns a JSON-ready dict with n, every metric in
    SCORES (roc_auc None when undefined), confusion_matrix (rows true, columns predicted),
    class_names and per-subject predictions.
    Raises ValueError when the shapes disagree or there are no subjects.
    """
    y, p = checked(y_true, prob, len(class_names))
    pred = p.argmax(axis=1)
    names = list(subjects) if subjects is not None else [str(i) for i in range(y.size)]
    return {
        "n": int(y.size),
        **scores(y, p),
        "confusion_matrix": confusion(y, pred, len(class_names)).tolist(),
        "class_names": list(class_names),
        "predictions": [
            {
                "subject": names[i],
                "label": class_names[y[i]],
                "predicted": class_names[pred[i]],
                "probabilities": {c: round(float(p[i, k]), 6) for k, c in enumerate(class_names)},
            }
            for i in range(y.size)
        ],
    }
