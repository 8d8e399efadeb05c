"""Rates from a confusion matrix (rows true, columns predicted), numpy only, so that both
backends (the MXNet worker has no scikit-learn) report the same metrics under the same names.

For two classes the second is the positive one; for more, sensitivity, specificity, precision
and F1 are macro averages of the one-vs-rest values. Balanced accuracy is the mean recall over the
classes present in the truth (scikit-learn's definition, without its warning when a test set
holds one class).
"""

from __future__ import annotations

import numpy as np


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def batch_rates(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Every rate of a stack of (B, C, C) confusion matrices (rows true), each as a (B,) array;
    the bootstrap (models/metrics.py) rates all its resamples in one call."""
    tp = np.diagonal(cm, axis1=1, axis2=2)
    actual, predicted = cm.sum(axis=2), cm.sum(axis=1)
    fn, fp = actual - tp, predicted - tp
    tn = cm.sum(axis=(1, 2))[:, None] - tp - fn - fp
    sens, spec, prec = _ratio(tp, tp + fn), _ratio(tn, tn + fp), _ratio(tp, tp + fp)
    f1 = _ratio(2 * prec * sens, prec + sens)
    pick = (lambda v: v[:, 1]) if cm.shape[1] == 2 else (lambda v: v.mean(axis=1))
    present = actual > 0
    return {
        "accuracy": tp.sum(axis=1) / cm.sum(axis=(1, 2)),
        "balanced_accuracy": (sens * present).sum(axis=1) / present.sum(axis=1),
        "sensitivity": pick(sens),
        "specificity": pick(spec),
        "precision": pick(prec),
        "f1": pick(f1),
    }


def confusion_rates(cm) -> dict[str, float]:  # noqa: ANN001 - a C×C array-like of counts
    """accuracy, balanced_accuracy, sensitivity, specificity, precision, f1. Raises ValueError
    for a matrix that is not square or holds no subject."""
    m = np.asarray(cm, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.sum() <= 0:
        raise ValueError(f"need a square confusion matrix with counts, got shape {m.shape}")
    return {metric: float(value[0]) for metric, value in batch_rates(m[None]).items()}
