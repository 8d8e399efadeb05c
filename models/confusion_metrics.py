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


def confusion_rates(cm) -> dict[str, float]:  # noqa: ANN001 - a C×C array-like of counts
    """accuracy, balanced_accuracy, sensitivity, specificity, precision, f1. Raises ValueError
    for a matrix that is not square or holds no subject."""
    m = np.asarray(cm, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.sum() <= 0:
        raise ValueError(f"need a square confusion matrix with counts, got shape {m.shape}")
    tp = np.diag(m)
    fn, fp = m.sum(axis=1) - tp, m.sum(axis=0) - tp
    tn = m.sum() - tp - fn - fp
    sens, spec, prec = _ratio(tp, tp + fn), _ratio(tn, tn + fp), _ratio(tp, tp + fp)
    f1 = _ratio(2 * prec * sens, prec + sens)
    pick = (lambda v: float(v[1])) if m.shape[0] == 2 else (lambda v: float(v.mean()))
    present = (tp + fn) > 0
    return {"accuracy": float(tp.sum() / m.sum()), "balanced_accuracy": float(sens[present].mean()),
            "sensitivity": pick(sens), "specificity": pick(spec), "precision": pick(prec), "f1": pick(f1)}
